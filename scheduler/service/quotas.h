// Sharing the pool: tenant quotas checked at placement, and preemption of
// lower-priority replicas for a higher-priority one that cannot be placed.
//
// Contract:
//  - TenantQuota: the tenant's quota_* columns (sql/0003), unset = unlimited.
//    TenantUsage: what its bound live replicas (scheduled, starting, ready,
//    failed, stopping) hold: replicas, GPUs (one per device index), GPU
//    memory (memory_bytes per GPU), host cores (cpu_threads).
//  - quota_violation(quota, usage, a) is "" when adding one replica with
//    assignment `a` stays within every quota, else the why-pending text
//    "quota: <what> <used>+<more> > <quota>" for the first one exceeded
//    (order: replicas, gpus, gpu memory, cpu cores).
//  - Guaranteed share: a tenant with a quota is guaranteed
//    kGuaranteedShareFraction of each quota it sets. under_guaranteed_share()
//    is true when its usage is at or below that fraction of every quota set
//    (a tenant without quotas has no guaranteed share). Such a tenant's
//    replicas are never preempted.
//  - plan_preemption(): for a pending replica of priority P that placement
//    rejected, looks at each alive, non-draining node for the fewest victims
//    among its running replicas with priority < P whose tenant is not under
//    its guaranteed share, taken lowest priority first, then most recently
//    started first, until `fits(node, freed)` says the replica would fit.
//    Replicas already stopping because of a preemption count as freed at no
//    cost (so a cycle never preempts twice for the same replica: a plan with
//    no victims means "wait for them to stop"). The chosen node has the
//    fewest victims, then the lowest highest victim priority, then the
//    lowest node id. nullopt when no node can make room.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/snapshot.h"

namespace scn::scheduler {

inline constexpr double kGuaranteedShareFraction = 0.5;

struct TenantQuota {
  std::optional<int64_t> replicas, gpus, gpu_memory_bytes, cpu_cores;
  bool any() const { return replicas || gpus || gpu_memory_bytes || cpu_cores; }
};

struct TenantUsage {
  int64_t replicas = 0, gpus = 0, gpu_memory_bytes = 0, cpu_cores = 0;
};

void add_usage(TenantUsage& usage, const Assignment& a);
std::string quota_violation(const TenantQuota& quota, const TenantUsage& usage, const Assignment& a);
bool under_guaranteed_share(const TenantQuota& quota, const TenantUsage& usage);

// A replica bound to a node, as preemption sees it.
struct RunningReplica {
  std::string replica_id;
  std::string service_id;
  std::string tenant_id;
  std::string node_id;
  int priority = 0;
  int64_t started_ms = 0;      // scheduled_at, unix ms
  bool preempted = false;      // already stopping because of a preemption
  bool gpu = false;            // holds GPU memory (else RAM)
  std::vector<int> gpu_slots;  // positions in the node's Node::gpus
  uint64_t memory_bytes = 0;   // per GPU slot, or RAM
  int cpu_cores = 0;
};

struct PreemptionPlan {
  std::string node_id;
  std::vector<std::string> victims;  // replica ids, in eviction order
};

// `fits(node, freed)`: would the replica fit on `node` once `freed` (running
// replicas of that node) are gone.
using FitsAfter = std::function<bool(const Node& node, const std::vector<const RunningReplica*>& freed)>;

std::optional<PreemptionPlan> plan_preemption(
    const Snapshot& snapshot, int priority, const std::vector<RunningReplica>& running,
    const std::map<std::string, bool>& protected_tenants, const FitsAfter& fits);

// Node `node` with the resources of `freed` given back (for FitsAfter).
Node node_with_freed(const Node& node, const std::vector<const RunningReplica*>& freed);

}  // namespace scn::scheduler
