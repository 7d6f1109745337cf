#include "scheduler/plugins/allowed_regions.h"

namespace scn::scheduler {
namespace {


bool known(const std::string& key) { return !key.empty() && key != "unknown"; }

}  // namespace

bool AllowedRegionsFilter::filter_center(const Cycle& cycle, const Center& center) const {
  return cycle.region_allowed[center.region_id] != 0;  // pre-filtered by the Cycle
}

std::string AllowedRegionsFilter::center_reason(const Cycle& cycle, const Center& center) const {
  if (!known(region_key(center.region))) return "region of center " + center.name + " is unknown";
  std::string s = "region " + center.region + " not allowed (allowed: ";
  for (size_t i = 0; i < cycle.request.allowed_regions.size(); ++i) {
    s += (i == 0 ? "" : ", ") + cycle.request.allowed_regions[i];
  }
  return s + ")";
}

bool AllowedRegionsFilter::filter(const Cycle&, const NodeEval&) const { return true; }

std::string AllowedRegionsFilter::reason(const Cycle&, const NodeEval&) const { return {}; }

}  // namespace scn::scheduler
