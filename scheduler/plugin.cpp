#include "scheduler/plugin.h"

#include <algorithm>

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
  for (uint32_t id = 0; id < gpu_model_allowed.size(); ++id) {
    if (gpu_model_allowed[id]) gpu_model_mask |= NodeHot::model_bit(id);
  }
  if (service) {
    service_centers = snap.service_center_replicas(*service);
    service_nodes = snap.service_node_replicas(*service);
  }
  if (req.allowed_regions.empty()) {
    region_allowed = snap.known_regions();
  } else {
    region_allowed.assign(snap.region_count(), 0);
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

uint32_t Cycle::service_replicas_on_node(uint32_t node) const {
  if (service_nodes == nullptr) return 0;
  auto it = std::lower_bound(service_nodes->begin(), service_nodes->end(), std::pair<uint32_t, uint32_t>{node, 0});
  return it != service_nodes->end() && it->first == node ? it->second : 0;
}

const Assignment* NodeEval::assignment() const {
  if (!planned_) {
    planned_ = true;
    // The hot fields are upper bounds of what plan_assignment() looks at:
    // when they prove nothing fits, the node's GPUs are not visited.
    const NodeHot& h = hot();
    const ReplicaRequest& r = cycle_->request;
    const bool gpu_may = r.device_kind != DeviceKind::kCpu && h.max_free_gpu >= cycle_->need_gpu_bytes &&
                         h.free_cores >= r.gpu_host_cores && (h.gpu_models & cycle_->gpu_model_mask) != 0;
    const bool cpu_may = r.device_kind != DeviceKind::kGpu && h.free_ram >= cycle_->need_cpu_bytes &&
                         h.free_cores >= r.cpu_cores;
    if (gpu_may || cpu_may) assignment_ = plan_assignment(*cycle_, node(), center());
  }
  return assignment_ ? &*assignment_ : nullptr;
}

}  // namespace scn::scheduler
