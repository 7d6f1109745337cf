#include "scheduler/plugins/allowed_regions.h"

namespace scn::scheduler {
namespace {

std::string region_key(std::string_view region) {
  const auto first = region.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = region.find_last_not_of(" \t");
  return fold_case(region.substr(first, last - first + 1));
}

bool known(const std::string& key) { return !key.empty() && key != "unknown"; }

}  // namespace

bool AllowedRegionsFilter::filter_center(const Cycle& cycle, const Center& center) const {
  const std::string key = region_key(center.region);
  if (!known(key)) return false;
  if (cycle.request.allowed_regions.empty()) return true;
  for (const std::string& allowed : cycle.request.allowed_regions) {
    if (region_key(allowed) == key) return true;
  }
  return false;
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
