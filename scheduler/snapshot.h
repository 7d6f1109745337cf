// The pool snapshot that placement runs over, and the replica to place.
//
// Contract:
//  - A Snapshot is an in-memory copy of the pool: centers, nodes with their
//    devices and *free* resources (what existing replicas left), the models
//    each node already holds, and where each service's replicas are. It is
//    built by the caller (from PostgreSQL + heartbeats) with add_center(),
//    add_node() and add_service_replica(); it never touches a database.
//  - Placement (framework.h) reads a const Snapshot. Reserve/unreserve are the
//    only mutations made during a scheduling cycle: reserve() subtracts a
//    decision's resources (and counts the replica for spread) so the next
//    decision of the same cycle sees them; unreserve() gives them back. Both
//    are idempotent and keyed by replica id. Binding (a PostgreSQL
//    transaction) is the caller's.
//  - Inputs are validated: a bad center or node is an InvalidArgument Status,
//    never a crash; a reservation that no longer fits is a Conflict.
//  - Names compared by placement (GPU models, regions) are case-insensitive
//    (ASCII); ids are compared exactly.
//  - Not thread-safe: one scheduling loop owns a snapshot (even const use:
//    the node id order placement breaks ties with is computed on first use).
//  - Change tracking (for placement's per-request-shape verdict cache,
//    framework.h): every mutation of a node (reserve, unreserve, state,
//    outstanding, service replicas) appends its index to a change log;
//    adding a center or node bumps structure_version(). Each snapshot object
//    has its own uid() (a copy or move gets a fresh one), so a cache entry
//    names exactly one snapshot's history.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/aligned_allocator.h"
#include "common/status.h"

namespace scn::scheduler {

// ---- enumerations (text forms as stored in PostgreSQL) ----------------------

enum class DeviceKind : uint8_t { kCpu, kGpu, kAny };
std::string_view device_kind_name(DeviceKind kind);  // "cpu", "gpu", "any"
Result<DeviceKind> parse_device_kind(std::string_view text);

enum class CenterStatus : uint8_t { kActive, kMaintenance, kRetired };
std::string_view center_status_name(CenterStatus status);  // "active", ...
Result<CenterStatus> parse_center_status(std::string_view text);

// ASCII lower-case copy: the key under which GPU models and regions compare.
std::string fold_case(std::string_view text);
// The key regions compare under: fold_case() without surrounding spaces/tabs.
std::string region_key(std::string_view region);

// ---- the pool ---------------------------------------------------------------

struct Center {
  std::string id;      // centers.id
  std::string name;    // centers.name
  std::string region;  // province, e.g. "guangdong"; "" = unknown
  double price_gpu_hour = 0;       // per GPU-hour
  double price_cpu_core_hour = 0;  // per CPU-core-hour
  CenterStatus status = CenterStatus::kActive;
  uint32_t region_id = 0;  // set by Snapshot::add_center(): interned fold_case(region)
};

struct Gpu {
  // Hot fields first: placement scans them on every node.
  uint64_t free_bytes = 0;  // after the replicas already on it
  uint64_t memory_bytes = 0;
  uint32_t model_id = 0;    // set by Snapshot::add_node(): interned fold_case(model)
  int index = 0;            // the GPU's number on the node (replicas.device_indices)
  int64_t device_id = 0;    // devices.id of the node's row for this GPU model (0: unknown)
  std::string model;        // "H200", "A100-80G", "Ascend-910B", ...
};

// A taint from a node label `taint.<key>=<effect>` (effect NoSchedule,
// PreferNoSchedule or NoExecute; any other text counts as NoSchedule).
struct Taint {
  std::string key;
  std::string effect;
};

struct Node {
  // Hot fields first (placement reads them for every node of every decision).
  bool alive = true;       // heartbeat within the TTL
  bool draining = false;
  bool simulated = false;  // capacity declared with --simulate, not probed
  uint32_t center = 0;     // set by the Snapshot: index into Snapshot::centers()
  uint32_t replicas = 0;   // set by the Snapshot: replicas on the node (all services)
  uint32_t outstanding = 0;  // requests in flight on the node's replicas (heartbeats)
  int free_cpu_cores = 0;
  int cpu_cores = 0;
  uint64_t free_ram_bytes = 0;
  uint64_t ram_bytes = 0;
  std::vector<Gpu> gpus;  // one entry per GPU
  // Set by the Snapshot (read-only for callers):
  std::vector<uint32_t> model_ids;  // interned `models`, sorted
  // (interned service id, replicas of that service on this node), by service id.
  std::vector<std::pair<uint32_t, uint32_t>> service_replicas;
  std::vector<Taint> taints;  // parsed from `labels` (taint.<key>=<effect>), by key

  std::string id;         // nodes.id
  std::string name;
  std::string center_id;  // must name a center added before
  int64_t cpu_device_id = 0;        // devices.id of the node's CPU row (0: unknown)
  std::vector<std::string> models;  // model keys (ModelRequirements::model_key) cached here
  std::map<std::string, std::string> labels;

  bool has_model(uint32_t model_id) const;
  uint32_t replicas_of(uint32_t service_id) const;
};

// Packed per-node arrays start on a cache line (common/aligned_allocator.h),
// so one node's fields never straddle two.
template <class T, size_t Align>
using AlignedAllocator = common::AlignedAllocator<T, Align>;
template <class T>
using CacheAlignedVector = std::vector<T, AlignedAllocator<T, 64>>;

// The fields placement's filters read for every node, packed (one cache line
// per node, line-aligned, kept by the Snapshot on every change; Snapshot::hot()).
struct alignas(64) NodeHot {
  uint64_t max_free_gpu = 0;  // largest free memory of one GPU (any model)
  uint64_t free_ram = 0;
  // Bit m set when the node has a GPU of interned model m (m < 63); bit 63
  // when it has one of a model id >= 63 (then look at Node::gpus).
  uint64_t gpu_models = 0;
  // Bit (model key id % 64) set for each model the node holds: a clear bit
  // proves the model is absent (Node::has_model decides otherwise).
  uint64_t model_bloom = 0;
  int32_t free_cores = 0;
  uint32_t center = 0;
  uint32_t replicas = 0;   // Node::replicas
  uint32_t outstanding = 0;  // Node::outstanding
  uint32_t gpu_begin = 0;  // the node's GPUs in Snapshot::gpu_hot() and gpu_free()
  uint16_t gpu_count = 0;
  bool alive = true;
  bool draining = false;
  bool has_taints = false;
  static constexpr uint64_t kModelOverflow = uint64_t{1} << 63;
  static uint64_t model_bit(uint32_t model_id) { return model_id < 63 ? uint64_t{1} << model_id : kModelOverflow; }
};
static_assert(sizeof(NodeHot) == 64);

// A GPU's hot fields, packed per node in Node::gpus order (Snapshot::gpu_hot()).
struct GpuHot {
  uint64_t free_bytes = 0;
  uint64_t memory_bytes = 0;
  int64_t device_id = 0;
  uint32_t model_id = 0;
  int32_t index = 0;
};

// ---- the replica to place ---------------------------------------------------

// What a replica needs, from the catalog card (catalog/): the memory rule that
// turns it into bytes is replica_memory_bytes() in assignment.h.
struct ModelRequirements {
  std::string model_key;            // the weights' key (model file id), matched against Node::models
  uint64_t weight_bytes = 0;        // the GGUF file's tensor bytes
  uint64_t kv_bytes_per_token = 0;  // layers x KV heads x head dim x 2 x bytes per element
  uint32_t context_tokens = 0;      // the service's context length
};

struct ReplicaRequest {
  std::string replica_id;  // replicas.id: the key of reserve/unreserve
  std::string service_id;  // replicas of one service are spread
  std::string tenant_id;
  ModelRequirements model;
  DeviceKind device_kind = DeviceKind::kAny;
  std::vector<std::string> device_models;    // allowed GPU models; empty = any
  std::vector<std::string> allowed_regions;  // tenant's data residency; empty = any
  std::optional<double> price_cap_per_hour;  // none = no cap
  int cpu_cores = 1;       // engine threads of a CPU replica (reserved cores)
  int gpu_host_cores = 1;  // host cores a GPU replica reserves
  // Taint keys this replica tolerates ("*": every taint); a toleration
  // "key" tolerates every effect, "key=effect" that effect only.
  std::vector<std::string> tolerations;
  std::string tenant_region;  // the tenant's province, for the latency score ("" = none)
  int priority = 0;           // queue sort: higher first
  int64_t created_at_ms = 0;  // queue sort: older first among equal priorities
};

// OK, or InvalidArgument naming the first bad field (empty ids, zero weights or
// context, negative cores, non-finite or negative price cap).
Status validate_request(const ReplicaRequest& request);

// ---- what a decision takes on a node ----------------------------------------

struct Assignment {
  DeviceKind kind = DeviceKind::kCpu;  // kCpu or kGpu, never kAny
  int gpu = -1;            // position in Node::gpus (kGpu), else -1
  int gpu_index = -1;      // that GPU's Gpu::index
  int64_t device_id = 0;   // devices.id of the GPU or CPU row
  uint64_t memory_bytes = 0;  // reserved on the GPU, or in RAM (kCpu)
  int cpu_cores = 0;          // reserved host cores
  double price_per_hour = 0;  // see assignment.h
  bool operator==(const Assignment&) const = default;
};

struct Reservation {
  std::string replica_id;
  std::string node_id;
  uint32_t node = 0;     // index into Snapshot::nodes()
  uint32_t service = 0;  // interned service id
  Assignment assignment;
};

// ---- the snapshot -------------------------------------------------------------

// std::hash<std::string_view> for heterogeneous lookup (no std::string built
// to look a name up).
struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// Interned names -> ids, looked up by string_view.
using StringIdMap = std::unordered_map<std::string, uint32_t, TransparentStringHash, std::equal_to<>>;

class Snapshot {
 public:
  // A center with a new, non-empty id; prices finite and >= 0.
  Status add_center(Center center);
  // A node with a new, non-empty id in a known center; free <= total for
  // cores, RAM and each GPU; GPU memory > 0; GPU indices distinct.
  Status add_node(Node node);
  // Records that a replica of `service_id` is already bound to `node_id`
  // (for spread). Resources are not touched: the node's free figures already
  // account for it.
  Status add_service_replica(std::string_view service_id, std::string_view node_id);
  // Liveness from heartbeats / operators between cycles.
  Status set_node_state(std::string_view node_id, bool alive, bool draining);
  // Requests in flight on a node (the load score), from heartbeats.
  Status set_node_outstanding(std::string_view node_id, uint32_t outstanding);

  // Takes `assignment` on `node_id` for the replica: free resources shrink and
  // the replica counts for spread. Reserving the same replica again with the
  // same node and assignment is a no-op; with another, Conflict. Conflict too
  // if the node no longer has the resources (a stale decision).
  Status reserve(const ReplicaRequest& request, std::string_view node_id,
                 const Assignment& assignment);
  // The same, with the node named by its index in nodes() (NotFound when out
  // of range): spares the id lookup when placement already knows the index.
  Status reserve_at(const ReplicaRequest& request, uint32_t node, const Assignment& assignment);
  // Gives back what reserve() took. Returns false (and does nothing) when the
  // replica holds no reservation.
  bool unreserve(std::string_view replica_id);
  const Reservation* find_reservation(std::string_view replica_id) const;
  size_t reservation_count() const { return reservations_.size(); }

  const std::vector<Center>& centers() const { return centers_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  // Hot fields per node (indexed like nodes()), always equal to the nodes'.
  const CacheAlignedVector<NodeHot>& hot() const { return hot_; }
  // A node's GPUs start on a cache line when it has at most 8 (8 x 8 bytes
  // of gpu_free(): one line), else on a multiple of 8 entries.
  const CacheAlignedVector<GpuHot>& gpu_hot() const { return gpu_hot_; }
  // Each GPU's free bytes alone (GpuHot::free_bytes), packed the same way:
  // one cache line holds a node's 8 GPUs for the best-fit scan.
  const CacheAlignedVector<uint64_t>& gpu_free() const { return gpu_free_; }
  const Node* find_node(std::string_view id) const;
  std::optional<uint32_t> node_index(std::string_view id) const;
  std::optional<uint32_t> center_index(std::string_view id) const;
  // Nodes per center (same indexing as centers()).
  const std::vector<uint32_t>& center_node_counts() const { return center_nodes_; }
  // Node indices per center, in id order (same indexing as centers()).
  const std::vector<std::vector<uint32_t>>& center_members() const { return center_members_; }
  // Upper bounds kept incrementally for skipping whole centers: the largest
  // free memory of one GPU, the largest free RAM and free cores of one node,
  // over the center's nodes (every node, alive or not). Always exact: kept
  // with the number of nodes at each bound, a center is rescanned only when
  // the last node at a bound moves below it.
  uint64_t center_max_free_gpu(uint32_t center) const { return center_max_gpu_[center]; }
  uint64_t center_max_free_ram(uint32_t center) const { return center_max_ram_[center]; }
  int center_max_free_cores(uint32_t center) const { return center_max_cores_[center]; }
  std::optional<uint32_t> region_id(std::string_view region) const;  // case-insensitive

  // Change tracking (see the contract). change_position() is the log's end;
  // changes_since(pos) lists the nodes changed since then (with repeats), or
  // nullopt when the log no longer reaches back to `pos` (it is trimmed after
  // max(4,096, 2 x nodes) entries) or pos is in the future.
  uint64_t uid() const { return uid_.value; }
  uint64_t structure_version() const { return structure_version_; }
  uint64_t change_position() const { return log_base_ + change_log_.size(); }
  std::optional<std::pair<const uint32_t*, size_t>> changes_since(uint64_t position) const;
  size_t region_count() const { return regions_.size(); }
  // Interned region keys (region_key()) -> id.
  const StringIdMap& regions() const { return regions_; }
  // Each node's rank in node id order (indexed like nodes()): placement breaks
  // ties with it. Computed on first use after add_node().
  const std::vector<uint32_t>& id_ranks() const;

  // Interned names; nullopt for a name no node or replica uses.
  std::optional<uint32_t> gpu_model_id(std::string_view model) const;  // case-insensitive
  size_t gpu_model_count() const { return gpu_models_.size(); }
  std::optional<uint32_t> model_key_id(std::string_view key) const;
  // Interned model keys: ids are 0..count-1. With at most 64, NodeHot's
  // model_bloom is exact (a set bit proves the model is present).
  size_t model_key_count() const { return model_keys_.size(); }
  // By interned region id: 1 for a known region (not "" nor "unknown").
  const std::vector<uint8_t>& known_regions() const { return known_regions_; }
  std::optional<uint32_t> service_key(std::string_view service_id) const;
  // Replicas of a service per center (indexed like centers(); may be shorter:
  // missing entries are 0), or nullptr when the service has none.
  const std::vector<uint32_t>* service_center_replicas(uint32_t service) const;
  // (node index, replicas of the service there) for each node holding one,
  // in node index order, or nullptr when the service has none.
  const std::vector<std::pair<uint32_t, uint32_t>>* service_node_replicas(uint32_t service) const;

 private:
  template <class Table>
  uint32_t intern(Table& table, std::string_view key);
  void count_replica(uint32_t service, uint32_t node, int delta);
  void refresh_center_bounds(uint32_t center);
  // Keeps a center's bounds and the number of nodes at each bound exact as
  // one node's free figures move from `old` (its hot fields before a change)
  // to its hot fields now; rescans the center only when the last node at a
  // bound moved below it.
  void update_center_bounds(uint32_t center, const NodeHot& old, const NodeHot& now);
  void log_change(uint32_t node);
  void refresh_hot(uint32_t node);

  // A fresh process-unique id on construction, copy and move.
  struct Uid {
    Uid();
    Uid(const Uid&) : Uid() {}
    Uid& operator=(const Uid&);
    uint64_t value;
  };
  Uid uid_;
  uint64_t structure_version_ = 0;
  uint64_t log_base_ = 0;
  std::vector<uint32_t> change_log_;

  std::vector<Center> centers_;
  std::vector<uint32_t> center_nodes_;
  std::vector<std::vector<uint32_t>> center_members_;
  std::vector<uint64_t> center_max_gpu_;
  std::vector<uint64_t> center_max_ram_;
  std::vector<int> center_max_cores_;
  // Nodes of the center at each bound (exact).
  std::vector<uint32_t> center_at_max_gpu_;
  std::vector<uint32_t> center_at_max_ram_;
  std::vector<uint32_t> center_at_max_cores_;
  StringIdMap regions_;
  std::vector<uint8_t> known_regions_;
  std::map<std::string, uint32_t, std::less<>> center_by_id_;
  std::vector<Node> nodes_;
  CacheAlignedVector<NodeHot> hot_;
  CacheAlignedVector<GpuHot> gpu_hot_;
  CacheAlignedVector<uint64_t> gpu_free_;
  std::map<std::string, uint32_t, std::less<>> node_by_id_;
  StringIdMap gpu_models_;
  StringIdMap model_keys_;
  StringIdMap services_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> service_centers_;
  std::unordered_map<uint32_t, std::vector<std::pair<uint32_t, uint32_t>>> service_nodes_;
  std::unordered_map<std::string, Reservation, TransparentStringHash, std::equal_to<>> reservations_;
  mutable std::vector<uint32_t> id_ranks_;  // empty: to compute
};

}  // namespace scn::scheduler
