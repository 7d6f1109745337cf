// Placement: one replica, one decision over a Snapshot, explained.
//
// Contract:
//  - Framework::place() runs, for every node: the center-level filters, then
//    the node-level filters in profile order (the first that fails rejects the
//    node), then the fit rule (assignment.h; a node nothing fits on is
//    rejected under "fits" even if the profile has no fits plugin). Every
//    node that passes is scored by each score plugin (0..100, min-max
//    normalised where the plugin asks), the scores are weighted and summed;
//    the highest total wins, ties to the smallest node id. Pure: the same
//    snapshot and request give the same Placement.
//  - The result explains itself: a Decision lists each plugin's score on the
//    winning node ("why here"); rejections list, per filter, how many nodes
//    it rejected and one example (the rejected node with the smallest id) with
//    its reason ("why pending"). why() renders either as one line.
//  - An invalid request is not an error of place(): the Placement is
//    unschedulable with `error` set and no rejections.
//  - With Profile::max_feasible_nodes = k > 0, the scan stops after k feasible
//    nodes (as the Kubernetes scheduler's percentageOfNodesToScore). Nodes
//    are visited round-robin over the centers (so a sample sees every
//    center), each center from an offset chosen by a hash of the replica id,
//    so equal requests start at the same node and different ones spread.
//    0 scores every feasible node.
//  - Speed: centers rejected by a center-level filter count all their nodes
//    at once; a center whose capacity bounds (Snapshot::center_max_free_*)
//    prove nothing fits is skipped (nodes_skipped). When nothing is feasible
//    the scan is redone without skipping, so "why pending" counts every node
//    under the filter that rejected it. Per-center scores (latency) are
//    computed once per center. Scratch buffers are reused per thread.
//    Filters and the fit rule read the snapshot's packed hot fields
//    (NodeHot, GpuHot, gpu_free), not the Node, for every node visited;
//    the scan prefetches them a few visits ahead (the visited nodes are
//    scattered: a decision is bound by memory latency, not arithmetic).
//    Each visited node's assignment is planned once, shared by the filters
//    and the scores; plugins are called through plain pointers; verdicts
//    recorded for the cache cost only the nodes visited one by one.
//  - Verdict cache (verdict_cache.h, with Profile::cache_verdicts): an
//    unschedulable decision stores every node's verdict for the request's
//    shape; the next decision of that shape re-evaluates only the nodes the
//    snapshot changed since, then answers "why pending" from the counts
//    without a scan, or scans reading the stored verdicts instead of running
//    the filters. The Placement is identical to the uncached one (tested on
//    random pools).
//  - reserve()/unreserve() apply a Decision to the snapshot (Snapshot::reserve)
//    so the next place() of the same cycle sees it; binding is the caller's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "scheduler/plugin.h"
#include "scheduler/snapshot.h"

namespace scn::scheduler {

struct WeightedScore {
  std::shared_ptr<const ScorePlugin> plugin;
  double weight = 1;
};

struct Profile {
  std::vector<std::shared_ptr<const FilterPlugin>> filters;  // in order
  std::vector<WeightedScore> scores;
  uint32_t max_feasible_nodes = 0;  // 0: all
  // Keep per-request-shape verdicts (verdict_cache.h) so repeated decisions
  // of one shape re-evaluate only the nodes changed since. Same results
  // either way; false for the exhaustive reference path in tests.
  bool cache_verdicts = true;
};

struct ScoreLine {
  std::string plugin;
  double raw = 0;     // what the plugin returned
  double score = 0;   // after normalisation, 0..100
  double weight = 0;  // total += score x weight
};

struct Decision {
  std::string node_id;
  uint32_t node_index = 0;  // the node's index in Snapshot::nodes() (reserve() uses it when it still names node_id)
  std::string node_name;
  std::string center_id;
  std::string center_name;
  Assignment assignment;
  double total = 0;
  std::vector<ScoreLine> scores;  // profile order
};

struct Rejection {
  std::string filter;  // plugin name ("fits" for the implicit fit rule)
  uint32_t nodes = 0;
  std::string example_node_id;
  std::string example_reason;
};

struct Placement {
  std::optional<Decision> decision;  // set when placed
  std::vector<Rejection> rejections;  // most nodes first, then profile order
  std::string error;                  // invalid request
  uint32_t nodes_total = 0;
  uint32_t nodes_evaluated = 0;
  uint32_t nodes_feasible = 0;
  // Nodes not visited because their center's capacity bounds prove nothing
  // fits there (only when placed; a pending decision counts every node).
  uint32_t nodes_skipped = 0;

  bool scheduled() const { return decision.has_value(); }
  // "why here" for a placed replica, "why pending" otherwise, e.g.
  // "0/5 nodes available: 3 nodes: insufficient GPU memory (need 17.2 GiB,
  //  largest free 16 GiB); 2 nodes: region not allowed (...)".
  std::string why() const;
};

class Framework {
 public:
  // InvalidArgument for a null plugin, a name used twice, or a weight that is
  // not finite and > 0.
  static Result<Framework> create(Profile profile);

  Placement place(const Snapshot& snapshot, const ReplicaRequest& request) const;
  const Profile& profile() const { return profile_; }

 private:
  explicit Framework(Profile profile);
  Profile profile_;
  uint64_t uid_ = 0;  // names this framework's entries in the verdict cache
  // The profile's plugins as plain pointers (owned by profile_), and which
  // scores are per center: read for every node visited.
  std::vector<const FilterPlugin*> filter_ptrs_;
  std::vector<const ScorePlugin*> score_ptrs_;
  std::vector<uint8_t> score_per_center_;
};

// place() with the default profile (plugins/registry.h).
Placement place(const Snapshot& snapshot, const ReplicaRequest& request);

// Snapshot::reserve() of the decision's node and assignment.
Status reserve(Snapshot& snapshot, const ReplicaRequest& request, const Decision& decision);
// Snapshot::unreserve(); false when the replica held nothing.
bool unreserve(Snapshot& snapshot, std::string_view replica_id);

}  // namespace scn::scheduler
