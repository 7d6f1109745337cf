#include "scheduler/plugins/device_kind.h"

#include <set>

namespace scn::scheduler {

bool DeviceKindFilter::filter(const Cycle& cycle, const NodeEval& e) const {
  if (cycle.request.device_kind != DeviceKind::kGpu) return true;
  const uint64_t models = e.hot().gpu_models;
  if ((models & cycle.gpu_model_mask & ~NodeHot::kModelOverflow) != 0) return true;
  if ((models & cycle.gpu_model_mask & NodeHot::kModelOverflow) == 0) return false;
  for (const Gpu& g : e.node().gpus) {
    if (cycle.gpu_allowed(g)) return true;
  }
  return false;
}

std::string DeviceKindFilter::reason(const Cycle& cycle, const NodeEval& e) const {
  if (e.node().gpus.empty()) return "no GPU (the service wants a GPU)";
  std::set<std::string> has;
  for (const Gpu& g : e.node().gpus) has.insert(g.model);
  std::string s = "GPU model not allowed (node has ";
  bool first = true;
  for (const std::string& m : has) {
    s += (first ? "" : ", ") + m;
    first = false;
  }
  s += "; allowed: ";
  for (size_t i = 0; i < cycle.request.device_models.size(); ++i) {
    s += (i == 0 ? "" : ", ") + cycle.request.device_models[i];
  }
  return s + ")";
}

}  // namespace scn::scheduler
