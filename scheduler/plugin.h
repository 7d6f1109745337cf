// The extension points of the placement framework (after the Kubernetes
// scheduler framework): filter and score plugins, and the per-decision state
// they read.
//
// Contract:
//  - A Cycle holds what one decision computes once, before visiting nodes: the
//    memory the replica needs per device kind, the allowed GPU models, the
//    interned model key and service, the service's replicas per center.
//  - A NodeEval is one node seen by one decision. Its assignment() (which
//    device the replica would take, assignment.h) is planned on first use and
//    memoised; nullptr when nothing on the node fits (decided from the
//    node's hot fields alone when they prove it). Filters should read the
//    packed hot fields (NodeEval::hot(), snapshot.h) where they suffice:
//    placement visits every node of the pool for an unschedulable replica.
//  - A filter's verdict may depend only on the node, its center and the
//    request's fields other than replica_id, service_id, tenant_region,
//    priority and created_at_ms (the verdict cache, verdict_cache.h, relies
//    on it); scores may read anything.
//  - Filters answer pass/fail; the framework asks reason() only for the one
//    example node per filter it reports, so rejecting is cheap. A filter may
//    also judge a whole center (filter_center) once per decision: every node
//    of a rejected center counts as rejected by that filter, before any
//    node-level filter runs.
//  - Scores return a raw score in 0..100 (higher is better) for a node that
//    passed every filter (its assignment() is non-null). A plugin whose
//    normalize() is true has its raw scores min-max scaled to 0..100 over the
//    feasible nodes of the decision; then each is multiplied by its weight and
//    the sum decides.
//  - Pre-filter: the Cycle computes, once per decision, what makes filters
//    O(1) per node: allowed GPU model ids, allowed region ids (data
//    residency), the tenant's region, the wildcard toleration.
//  - Plugins are stateless and const: one instance serves every decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/snapshot.h"

namespace scn::scheduler {

struct Cycle {
  Cycle(const Snapshot& snapshot, const ReplicaRequest& request);

  const Snapshot& snapshot;
  const ReplicaRequest& request;
  uint64_t need_gpu_bytes = 0;  // replica_memory_bytes(model, kGpu)
  uint64_t need_cpu_bytes = 0;  // replica_memory_bytes(model, kCpu)
  // By interned GPU model id: may the replica run on it? All true when the
  // request names no models; a requested model no node has matches nothing.
  std::vector<uint8_t> gpu_model_allowed;
  std::optional<uint32_t> model_key;  // interned request.model.model_key
  std::optional<uint32_t> service;    // interned request.service_id
  const std::vector<uint32_t>* service_centers = nullptr;  // replicas per center
  // (node index, replicas) of the service, by node index (Snapshot::service_node_replicas).
  const std::vector<std::pair<uint32_t, uint32_t>>* service_nodes = nullptr;
  // Pre-filter: by interned region id (Center::region_id), may the replica
  // run there? Known regions only (empty or "unknown" never), and only those
  // in request.allowed_regions when it is not empty (data residency).
  std::vector<uint8_t> region_allowed;
  std::optional<uint32_t> tenant_region;  // interned request.tenant_region
  bool tolerates_all = false;             // request.tolerations holds "*"
  // NodeHot::gpu_models bits of the allowed GPU models (kModelOverflow too
  // when an allowed model's id is >= 63: then Node::gpus decides).
  uint64_t gpu_model_mask = 0;

  bool gpu_allowed(const Gpu& gpu) const { return gpu_model_allowed[gpu.model_id] != 0; }
  uint32_t service_replicas_in_center(uint32_t center) const;
  uint32_t service_replicas_on_node(uint32_t node) const;
};

class NodeEval {
 public:
  NodeEval(const Cycle& cycle, uint32_t node_index) : cycle_(&cycle), index_(node_index) {}
  uint32_t index() const { return index_; }
  const Node& node() const { return cycle_->snapshot.nodes()[index_]; }
  const NodeHot& hot() const { return cycle_->snapshot.hot()[index_]; }
  const Center& center() const { return cycle_->snapshot.centers()[hot().center]; }
  // The hot fields of the node's GPU at `position` in Node::gpus.
  const GpuHot& gpu_hot(int position) const {
    return cycle_->snapshot.gpu_hot()[hot().gpu_begin + static_cast<uint32_t>(position)];
  }
  const Assignment* assignment() const;

 private:
  const Cycle* cycle_;
  uint32_t index_;
  mutable bool planned_ = false;
  mutable std::optional<Assignment> assignment_;
};

class FilterPlugin {
 public:
  virtual ~FilterPlugin() = default;
  virtual std::string_view name() const = 0;
  // Center-level verdict (default: pass) and its reason when rejected.
  virtual bool filter_center(const Cycle& cycle, const Center& center) const { return true; }
  virtual std::string center_reason(const Cycle& cycle, const Center& center) const { return {}; }
  // Node-level verdict and its reason when rejected.
  virtual bool filter(const Cycle& cycle, const NodeEval& node) const = 0;
  virtual std::string reason(const Cycle& cycle, const NodeEval& node) const = 0;
};

class ScorePlugin {
 public:
  virtual ~ScorePlugin() = default;
  virtual std::string_view name() const = 0;
  virtual double score(const Cycle& cycle, const NodeEval& node) const = 0;  // 0..100
  virtual bool normalize() const { return false; }
  // A plugin whose score depends only on the node's center says so: the
  // framework then calls score_center() once per center per decision and
  // gives every node of the center that score (it must equal score()).
  virtual bool per_center() const { return false; }
  virtual double score_center(const Cycle& cycle, const Center& center) const { return 0; }
};

}  // namespace scn::scheduler
