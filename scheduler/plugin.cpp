#include "scheduler/plugin.h"

#include "scheduler/assignment.h"

namespace scn::scheduler {

Cycle::Cycle(const Snapshot& snap, const ReplicaRequest& req)
    : snapshot(snap),
      request(req),
      need_gpu_bytes(replica_memory_bytes(req.model, DeviceKind::kGpu)),
      need_cpu_bytes(replica_memory_bytes(req.model, DeviceKind::kCpu)),
      gpu_model_allowed(snap.gpu_model_count(), req.device_models.empty() ? 1 : 0),
      model_key(snap.model_key_id(req.model.model_key)),
      service(snap.service_key(req.service_id)) {
  for (const std::string& m : req.device_models) {
    if (const auto id = snap.gpu_model_id(m)) gpu_model_allowed[*id] = 1;
  }
  if (service) service_centers = snap.service_center_replicas(*service);
  region_allowed.assign(snap.region_count(), 0);
  if (req.allowed_regions.empty()) {
    for (const auto& [key, id] : snap.regions()) region_allowed[id] = key.empty() || key == "unknown" ? 0 : 1;
  } else {
    for (const std::string& allowed : req.allowed_regions) {
      const std::string key = region_key(allowed);
      if (key.empty() || key == "unknown") continue;
      if (const auto id = snap.region_id(key)) region_allowed[*id] = 1;
    }
  }
  if (!req.tenant_region.empty()) tenant_region = snap.region_id(req.tenant_region);
  for (const std::string& t : req.tolerations) tolerates_all = tolerates_all || t == "*";
}

uint32_t Cycle::service_replicas_in_center(uint32_t center) const {
  if (service_centers == nullptr || center >= service_centers->size()) return 0;
  return (*service_centers)[center];
}

NodeEval::NodeEval(const Cycle& cycle, uint32_t node_index)
    : cycle_(&cycle),
      index_(node_index),
      node_(&cycle.snapshot.nodes()[node_index]),
      center_(&cycle.snapshot.centers()[node_->center]) {}

const Assignment* NodeEval::assignment() const {
  if (!planned_) {
    assignment_ = plan_assignment(*cycle_, *node_, *center_);
    planned_ = true;
  }
  return assignment_ ? &*assignment_ : nullptr;
}

}  // namespace scn::scheduler
