#include "scheduler/plugins/registry.h"

#include "scheduler/plugins/allowed_regions.h"
#include "scheduler/plugins/bin_packing.h"
#include "scheduler/plugins/device_kind.h"
#include "scheduler/plugins/fits.h"
#include "scheduler/plugins/latency.h"
#include "scheduler/plugins/load.h"
#include "scheduler/plugins/model_present.h"
#include "scheduler/plugins/node_alive.h"
#include "scheduler/plugins/not_draining.h"
#include "scheduler/plugins/price.h"
#include "scheduler/plugins/price_cap.h"
#include "scheduler/plugins/spread.h"
#include "scheduler/plugins/taints.h"

namespace scn::scheduler {
namespace {

std::string joined(const std::vector<std::string_view>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : ", ") + std::string(names[i]);
  return s;
}

}  // namespace

std::vector<std::string_view> filter_names() {
  return {"node_alive", "not_draining", "device_kind", "allowed_regions", "taints", "fits", "price_cap"};
}

std::vector<std::string_view> score_names() {
  return {"spread", "bin_packing", "model_present", "price", "latency", "load"};
}

Result<std::shared_ptr<const FilterPlugin>> make_filter(std::string_view name) {
  if (name == "node_alive") return std::shared_ptr<const FilterPlugin>(std::make_shared<NodeAliveFilter>());
  if (name == "device_kind") return std::shared_ptr<const FilterPlugin>(std::make_shared<DeviceKindFilter>());
  if (name == "allowed_regions") {
    return std::shared_ptr<const FilterPlugin>(std::make_shared<AllowedRegionsFilter>());
  }
  if (name == "not_draining") {
    return std::shared_ptr<const FilterPlugin>(std::make_shared<NotDrainingFilter>());
  }
  if (name == "taints") return std::shared_ptr<const FilterPlugin>(std::make_shared<TaintsFilter>());
  if (name == "fits") return std::shared_ptr<const FilterPlugin>(std::make_shared<FitsFilter>());
  if (name == "price_cap") return std::shared_ptr<const FilterPlugin>(std::make_shared<PriceCapFilter>());
  return Status::invalid_argument("unknown filter plugin '" + std::string(name) +
                                  "' (known: " + joined(filter_names()) + ")");
}

Result<std::shared_ptr<const ScorePlugin>> make_score(std::string_view name) {
  if (name == "spread") return std::shared_ptr<const ScorePlugin>(std::make_shared<SpreadScore>());
  if (name == "bin_packing") return std::shared_ptr<const ScorePlugin>(std::make_shared<BinPackingScore>());
  if (name == "model_present") {
    return std::shared_ptr<const ScorePlugin>(std::make_shared<ModelPresentScore>());
  }
  if (name == "price") return std::shared_ptr<const ScorePlugin>(std::make_shared<PriceScore>());
  if (name == "latency") return std::shared_ptr<const ScorePlugin>(std::make_shared<LatencyScore>());
  if (name == "load") return std::shared_ptr<const ScorePlugin>(std::make_shared<LoadScore>());
  return Status::invalid_argument("unknown score plugin '" + std::string(name) +
                                  "' (known: " + joined(score_names()) + ")");
}

Result<Profile> make_profile(const std::vector<std::string>& filters,
                             const std::vector<std::pair<std::string, double>>& scores,
                             uint32_t max_feasible_nodes) {
  Profile p;
  p.max_feasible_nodes = max_feasible_nodes;
  for (const std::string& name : filters) {
    SCN_ASSIGN_OR_RETURN(auto f, make_filter(name));
    p.filters.push_back(std::move(f));
  }
  for (const auto& [name, weight] : scores) {
    SCN_ASSIGN_OR_RETURN(auto s, make_score(name));
    p.scores.push_back({std::move(s), weight});
  }
  // Framework::create() is the one place that judges a profile.
  if (Status st = Framework::create(p).status(); !st.is_ok()) return st;
  return p;
}

Profile default_profile() {
  std::vector<std::string> filters;
  for (std::string_view f : filter_names()) filters.emplace_back(f);
  return make_profile(filters,
                      {{"spread", 8}, {"bin_packing", 2}, {"model_present", 2}, {"price", 1}, {"latency", 2}})
      .value();
}

}  // namespace scn::scheduler
