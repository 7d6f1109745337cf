#include "scheduler/service/quotas.h"

#include <algorithm>

#include "scheduler/assignment.h"

namespace scn::scheduler {

void add_usage(TenantUsage& u, const Assignment& a) {
  ++u.replicas;
  u.cpu_cores += a.cpu_cores;
  if (a.kind == DeviceKind::kGpu) {
    ++u.gpus;
    u.gpu_memory_bytes += static_cast<int64_t>(a.memory_bytes);
  }
}

std::string quota_violation(const TenantQuota& q, const TenantUsage& u, const Assignment& a) {
  TenantUsage after = u;
  add_usage(after, a);
  auto over = [](const char* what, int64_t used, int64_t more, int64_t quota, bool bytes) -> std::string {
    auto fmt = [&](int64_t v) {
      return bytes ? format_bytes(static_cast<uint64_t>(std::max<int64_t>(0, v))) : std::to_string(v);
    };
    return std::string("quota: ") + what + " " + fmt(used) + "+" + fmt(more) + " > " + fmt(quota);
  };
  if (q.replicas && after.replicas > *q.replicas) return over("replicas", u.replicas, 1, *q.replicas, false);
  if (q.gpus && after.gpus > *q.gpus) return over("gpus", u.gpus, after.gpus - u.gpus, *q.gpus, false);
  if (q.gpu_memory_bytes && after.gpu_memory_bytes > *q.gpu_memory_bytes)
    return over("gpu memory", u.gpu_memory_bytes, after.gpu_memory_bytes - u.gpu_memory_bytes,
                *q.gpu_memory_bytes, true);
  if (q.cpu_cores && after.cpu_cores > *q.cpu_cores)
    return over("cpu cores", u.cpu_cores, after.cpu_cores - u.cpu_cores, *q.cpu_cores, false);
  return "";
}

bool under_guaranteed_share(const TenantQuota& q, const TenantUsage& u) {
  if (!q.any()) return false;
  auto within = [](const std::optional<int64_t>& quota, int64_t used) {
    return !quota || static_cast<double>(used) <= static_cast<double>(*quota) * kGuaranteedShareFraction;
  };
  return within(q.replicas, u.replicas) && within(q.gpus, u.gpus) &&
         within(q.gpu_memory_bytes, u.gpu_memory_bytes) && within(q.cpu_cores, u.cpu_cores);
}

Node node_with_freed(const Node& node, const std::vector<const RunningReplica*>& freed) {
  Node n = node;
  for (const RunningReplica* r : freed) {
    n.free_cpu_cores = std::min(n.cpu_cores, n.free_cpu_cores + r->cpu_cores);
    if (r->gpu) {
      for (int slot : r->gpu_slots)
        if (slot >= 0 && slot < static_cast<int>(n.gpus.size()))
          n.gpus[slot].free_bytes = std::min(n.gpus[slot].memory_bytes, n.gpus[slot].free_bytes + r->memory_bytes);
    } else {
      n.free_ram_bytes = std::min(n.ram_bytes, n.free_ram_bytes + r->memory_bytes);
    }
  }
  return n;
}

std::optional<PreemptionPlan> plan_preemption(const Snapshot& snapshot, int priority,
                                              const std::vector<RunningReplica>& running,
                                              const std::map<std::string, bool>& protected_tenants,
                                              const FitsAfter& fits) {
  std::map<std::string, std::vector<const RunningReplica*>> by_node;
  for (const RunningReplica& r : running) by_node[r.node_id].push_back(&r);
  std::optional<PreemptionPlan> best;
  int best_top = 0;
  for (const Node& node : snapshot.nodes()) {  // id order is not guaranteed: compare ids below
    if (!node.alive || node.draining) continue;
    auto it = by_node.find(node.id);
    if (it == by_node.end()) continue;
    std::vector<const RunningReplica*> freed;
    std::vector<const RunningReplica*> candidates;
    for (const RunningReplica* r : it->second) {
      if (r->preempted) {
        freed.push_back(r);
        continue;
      }
      if (r->priority >= priority) continue;
      auto p = protected_tenants.find(r->tenant_id);
      if (p != protected_tenants.end() && p->second) continue;
      candidates.push_back(r);
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const RunningReplica* a, const RunningReplica* b) {
      if (a->priority != b->priority) return a->priority < b->priority;
      if (a->started_ms != b->started_ms) return a->started_ms > b->started_ms;
      return a->replica_id < b->replica_id;
    });
    PreemptionPlan plan;
    plan.node_id = node.id;
    int top = 0;
    bool ok = !freed.empty() && fits(node, freed);
    for (size_t i = 0; !ok && i < candidates.size(); ++i) {
      freed.push_back(candidates[i]);
      plan.victims.push_back(candidates[i]->replica_id);
      top = candidates[i]->priority;
      ok = fits(node, freed);
    }
    if (!ok) continue;
    const bool better = !best || plan.victims.size() < best->victims.size() ||
                        (plan.victims.size() == best->victims.size() &&
                         (top < best_top || (top == best_top && plan.node_id < best->node_id)));
    if (better) {
      best = std::move(plan);
      best_top = top;
    }
  }
  return best;
}

}  // namespace scn::scheduler
