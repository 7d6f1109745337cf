// The scheduler's invariants, checked over the pool's capacity and the bound
// replicas (in memory for `scn sim` and tests; from PostgreSQL for
// `scn scheduler check`, scheduler/invariants_pg.h).
//
// Contract:
//  - check_invariants() returns every violation, in a stable order (by kind,
//    then subject), never stopping at the first:
//      gpu_overcommit      the memory of the replicas holding one GPU (node,
//                          GPU index) exceeds that GPU's memory, or a
//                          replica names a GPU the node does not have;
//      ram_overcommit      the CPU replicas of a node reserve more RAM than it has;
//      service_above_max   a service has more replicas than its maximum;
//      service_below_min   fewer than its minimum, and no reason recorded;
//      replica_on_lost_node a live replica is bound to a node lost for
//                          longer than the TTL (it should have been replaced).
//  - Inputs are plain data: capacity_of() turns a Snapshot into them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/snapshot.h"

namespace scn::scheduler {

struct NodeCapacity {
  std::string node_id;
  std::vector<std::pair<int, uint64_t>> gpus;  // (GPU index, memory bytes)
  uint64_t ram_bytes = 0;
  bool lost = false;
  int64_t lost_for_ms = 0;  // how long it has been lost (when lost)
};

struct BoundReplica {
  std::string replica_id;
  std::string service_id;
  std::string node_id;
  DeviceKind kind = DeviceKind::kGpu;  // kGpu or kCpu
  int gpu_index = -1;                  // kGpu: the GPU it holds
  uint64_t memory_bytes = 0;
  bool live = true;  // scheduled/starting/ready (false: failed or stopping, still holding memory)
};

struct ServiceBounds {
  std::string service_id;
  int min_replicas = 0;
  int max_replicas = 0;
  int replicas = 0;         // counted replicas (live, or wanted and not yet stopped)
  bool has_reason = false;  // a reason is recorded (why pending, status reason)
};

struct InvariantInput {
  std::vector<NodeCapacity> nodes;
  std::vector<BoundReplica> replicas;
  std::vector<ServiceBounds> services;
  int64_t lost_ttl_ms = 0;
};

struct Violation {
  std::string kind;     // "gpu_overcommit", ...
  std::string subject;  // node id (+ "/gpu N"), service id or replica id
  std::string detail;   // for humans
  bool operator==(const Violation&) const = default;
};

std::vector<Violation> check_invariants(const InvariantInput& input);

// The nodes of a snapshot as capacities (lost = !alive; lost_for_ms 0).
std::vector<NodeCapacity> capacity_of(const Snapshot& snapshot);

// "kind subject: detail", one per line ("" when none).
std::string format_violations(const std::vector<Violation>& violations);

}  // namespace scn::scheduler
