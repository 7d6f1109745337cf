// Placement's per-request-shape verdict cache: what every node's filters said
// about one shape of request, kept exact as the snapshot changes.
//
// Contract:
//  - A request's shape (shape_key()) is every ReplicaRequest field except
//    replica_id, service_id, tenant_region, priority and created_at_ms: the
//    fields a filter plugin may read (plugin.h). Equal shapes get equal
//    filter verdicts on the same snapshot state.
//  - An entry holds, for one (framework, snapshot uid, structure version,
//    shape), each node's verdict: the index of the first filter that rejects
//    it (center-level verdicts included), nf for the fit rule, nf + 1 for
//    feasible; and the count per verdict. It records the snapshot's change
//    position; refresh() re-evaluates exactly the nodes changed since (the
//    snapshot's change log), so a refreshed entry equals a full scan. When
//    the log no longer reaches back, or the snapshot's structure changed, the
//    entry is dropped (lookup returns null) and the caller rescans.
//  - Entries are created by the exhaustive scan of an unschedulable replica
//    (it visits every node anyway), so repeated pending replicas of one shape
//    (a service's siblings, retries) cost the changed nodes, not the pool.
//  - Bounded: at most kMaxEntries per thread, least recently used evicted.
//    Thread-local: one scheduling loop per thread, like Snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/snapshot.h"

namespace scn::scheduler {

std::string shape_key(const ReplicaRequest& request);

struct VerdictEntry {
  uint64_t framework = 0;  // Framework's uid
  uint64_t snapshot = 0;   // Snapshot::uid()
  uint64_t structure = 0;  // Snapshot::structure_version()
  uint64_t position = 0;   // Snapshot::change_position() the verdicts are exact at
  std::string shape;
  size_t shape_hash = 0;         // std::hash of shape: compared first
  std::vector<uint8_t> verdict;  // per node
  std::vector<uint32_t> count;   // per verdict value (nf + 2)
  uint64_t used = 0;             // LRU stamp
};

class VerdictCache {
 public:
  static constexpr size_t kMaxEntries = 64;

  // The thread's cache.
  static VerdictCache& local();

  // The entry for this key, or nullptr (none, or stale and dropped).
  VerdictEntry* find(uint64_t framework, const Snapshot& snapshot, const std::string& shape);
  // A new entry (evicting the least recently used), verdicts to be filled by
  // the caller; position/structure/uid set from the snapshot now.
  VerdictEntry& insert(uint64_t framework, const Snapshot& snapshot, std::string shape, size_t verdicts);

 private:
  std::vector<VerdictEntry> entries_;
  uint64_t clock_ = 0;
};

}  // namespace scn::scheduler
