#include "scheduler/snapshot.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>

namespace scn::scheduler {

std::string_view device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kGpu: return "gpu";
    case DeviceKind::kAny: return "any";
  }
  return "any";
}

Result<DeviceKind> parse_device_kind(std::string_view text) {
  const std::string k = fold_case(text);
  if (k == "cpu") return DeviceKind::kCpu;
  if (k == "gpu") return DeviceKind::kGpu;
  if (k == "any" || k.empty()) return DeviceKind::kAny;
  return Status::invalid_argument("device kind must be cpu, gpu or any, got '" + std::string(text) + "'");
}

std::string_view center_status_name(CenterStatus status) {
  switch (status) {
    case CenterStatus::kActive: return "active";
    case CenterStatus::kMaintenance: return "maintenance";
    case CenterStatus::kRetired: return "retired";
  }
  return "retired";
}

Result<CenterStatus> parse_center_status(std::string_view text) {
  if (text == "active") return CenterStatus::kActive;
  if (text == "maintenance") return CenterStatus::kMaintenance;
  if (text == "retired") return CenterStatus::kRetired;
  return Status::invalid_argument("center status must be active, maintenance or retired, got '" +
                                  std::string(text) + "'");
}

std::string fold_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string region_key(std::string_view region) {
  const auto first = region.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = region.find_last_not_of(" \t");
  return fold_case(region.substr(first, last - first + 1));
}

bool Node::has_model(uint32_t model_id) const {
  return std::binary_search(model_ids.begin(), model_ids.end(), model_id);
}

uint32_t Node::replicas_of(uint32_t service_id) const {
  for (const auto& [service, count] : service_replicas) {
    if (service == service_id) return count;
  }
  return 0;
}

Status validate_request(const ReplicaRequest& r) {
  if (r.replica_id.empty()) return Status::invalid_argument("replica_id is empty");
  if (r.service_id.empty()) return Status::invalid_argument("service_id is empty");
  if (r.model.weight_bytes == 0) return Status::invalid_argument("model weight_bytes is 0");
  if (r.model.context_tokens == 0) return Status::invalid_argument("model context_tokens is 0");
  if (r.cpu_cores < 1) return Status::invalid_argument("cpu_cores must be >= 1");
  if (r.gpu_host_cores < 0) return Status::invalid_argument("gpu_host_cores must be >= 0");
  if (r.price_cap_per_hour && (!std::isfinite(*r.price_cap_per_hour) || *r.price_cap_per_hour < 0)) {
    return Status::invalid_argument("price cap must be a finite number >= 0");
  }
  return Status::ok();
}

// ---- change tracking -------------------------------------------------------------

namespace {
std::atomic<uint64_t> next_snapshot_uid{1};
}  // namespace

Snapshot::Uid::Uid() : value(next_snapshot_uid.fetch_add(1, std::memory_order_relaxed)) {}

Snapshot::Uid& Snapshot::Uid::operator=(const Uid&) {
  value = next_snapshot_uid.fetch_add(1, std::memory_order_relaxed);
  return *this;
}

void Snapshot::log_change(uint32_t node) {
  if (change_log_.size() >= std::max<size_t>(4096, 2 * nodes_.size())) {
    log_base_ += change_log_.size();
    change_log_.clear();
  }
  change_log_.push_back(node);
}

void Snapshot::refresh_hot(uint32_t index) {
  const Node& n = nodes_[index];
  NodeHot& h = hot_[index];
  h.max_free_gpu = 0;
  h.gpu_models = 0;
  for (size_t k = 0; k < n.gpus.size(); ++k) {
    const Gpu& g = n.gpus[k];
    h.max_free_gpu = std::max(h.max_free_gpu, g.free_bytes);
    h.gpu_models |= NodeHot::model_bit(g.model_id);
    gpu_hot_[h.gpu_begin + k] = {g.free_bytes, g.memory_bytes, g.device_id, g.model_id, g.index};
    gpu_free_[h.gpu_begin + k] = g.free_bytes;
  }
  h.model_bloom = 0;
  for (uint32_t m : n.model_ids) h.model_bloom |= uint64_t{1} << (m % 64);
  h.replicas = n.replicas;
  h.outstanding = n.outstanding;
  h.free_ram = n.free_ram_bytes;
  h.free_cores = n.free_cpu_cores;
  h.center = n.center;
  h.alive = n.alive;
  h.draining = n.draining;
  h.has_taints = !n.taints.empty();
}

std::optional<std::pair<const uint32_t*, size_t>> Snapshot::changes_since(uint64_t position) const {
  if (position < log_base_ || position > change_position()) return std::nullopt;
  const size_t from = static_cast<size_t>(position - log_base_);
  return std::make_pair(change_log_.data() + from, change_log_.size() - from);
}

// ---- building -----------------------------------------------------------------

template <class Table>
uint32_t Snapshot::intern(Table& table, std::string_view key) {
  if (auto it = table.find(key); it != table.end()) return it->second;
  const auto id = static_cast<uint32_t>(table.size());
  table.emplace(std::string(key), id);
  return id;
}

Status Snapshot::add_center(Center c) {
  if (c.id.empty()) return Status::invalid_argument("center id is empty");
  if (center_by_id_.count(c.id)) return Status::invalid_argument("center " + c.id + " added twice");
  if (!std::isfinite(c.price_gpu_hour) || c.price_gpu_hour < 0 ||
      !std::isfinite(c.price_cpu_core_hour) || c.price_cpu_core_hour < 0) {
    return Status::invalid_argument("center " + c.id + ": prices must be finite and >= 0");
  }
  const auto index = static_cast<uint32_t>(centers_.size());
  center_by_id_.emplace(c.id, index);
  const std::string region = region_key(c.region);
  c.region_id = intern(regions_, region);
  if (known_regions_.size() <= c.region_id) known_regions_.resize(c.region_id + 1, 0);
  known_regions_[c.region_id] = region.empty() || region == "unknown" ? 0 : 1;
  centers_.push_back(std::move(c));
  center_nodes_.push_back(0);
  center_members_.emplace_back();
  center_max_gpu_.push_back(0);
  center_max_ram_.push_back(0);
  center_max_cores_.push_back(0);
  center_at_max_gpu_.push_back(0);
  center_at_max_ram_.push_back(0);
  center_at_max_cores_.push_back(0);
  ++structure_version_;
  return Status::ok();
}

Status Snapshot::add_node(Node n) {
  if (n.id.empty()) return Status::invalid_argument("node id is empty");
  if (node_by_id_.count(n.id)) return Status::invalid_argument("node " + n.id + " added twice");
  const auto center = center_index(n.center_id);
  if (!center) return Status::invalid_argument("node " + n.id + ": unknown center '" + n.center_id + "'");
  if (n.cpu_cores < 0 || n.free_cpu_cores < 0 || n.free_cpu_cores > n.cpu_cores) {
    return Status::invalid_argument("node " + n.id + ": free CPU cores must be in 0..cores");
  }
  if (n.free_ram_bytes > n.ram_bytes) {
    return Status::invalid_argument("node " + n.id + ": free RAM exceeds RAM");
  }
  if (n.gpus.size() > 65535) return Status::invalid_argument("node " + n.id + ": more than 65,535 GPUs");
  std::set<int> indices;
  for (Gpu& g : n.gpus) {
    if (g.memory_bytes == 0 || g.free_bytes > g.memory_bytes) {
      return Status::invalid_argument("node " + n.id + ": GPU " + std::to_string(g.index) +
                                      " needs memory > 0 and free <= memory");
    }
    if (g.model.empty()) return Status::invalid_argument("node " + n.id + ": a GPU has no model name");
    if (!indices.insert(g.index).second) {
      return Status::invalid_argument("node " + n.id + ": GPU index " + std::to_string(g.index) + " twice");
    }
    g.model_id = intern(gpu_models_, fold_case(g.model));
  }
  n.center = *center;
  n.model_ids.clear();
  for (const std::string& m : n.models) n.model_ids.push_back(intern(model_keys_, m));
  std::sort(n.model_ids.begin(), n.model_ids.end());
  n.model_ids.erase(std::unique(n.model_ids.begin(), n.model_ids.end()), n.model_ids.end());
  n.service_replicas.clear();
  n.replicas = 0;
  n.taints.clear();
  for (const auto& [key, value] : n.labels) {
    if (key.size() > 6 && key.compare(0, 6, "taint.") == 0) n.taints.push_back({key.substr(6), value});
  }

  const auto index = static_cast<uint32_t>(nodes_.size());
  node_by_id_.emplace(n.id, index);
  id_ranks_.clear();
  center_nodes_[*center]++;
  uint64_t max_gpu = 0;
  for (const Gpu& g : n.gpus) max_gpu = std::max(max_gpu, g.free_bytes);
  // A new node: its figures join the center's bounds (counted at the bound).
  auto join = [](auto& max, uint32_t& at_max, auto value) {
    if (value > max || at_max == 0) {
      max = value;
      at_max = 1;
    } else if (value == max) {
      ++at_max;
    }
  };
  join(center_max_gpu_[*center], center_at_max_gpu_[*center], max_gpu);
  join(center_max_ram_[*center], center_at_max_ram_[*center], n.free_ram_bytes);
  join(center_max_cores_[*center], center_at_max_cores_[*center], n.free_cpu_cores);
  auto& members = center_members_[*center];
  const std::string& id = n.id;
  nodes_.push_back(std::move(n));
  NodeHot& h = hot_.emplace_back();
  // Line-aligned GPU blocks (see gpu_hot()): padding entries are never read.
  const size_t gpu_count = nodes_.back().gpus.size();
  size_t begin = gpu_hot_.size();
  if (gpu_count > 0 && begin % 8 + gpu_count > 8) begin = (begin + 7) / 8 * 8;
  h.gpu_begin = static_cast<uint32_t>(begin);
  h.gpu_count = static_cast<uint16_t>(gpu_count);
  gpu_hot_.resize(begin + gpu_count);
  gpu_free_.resize(gpu_hot_.size());
  refresh_hot(index);
  if (members.empty() || nodes_[members.back()].id < id) {
    members.push_back(index);
  } else {
    auto at = std::lower_bound(members.begin(), members.end(), index, [this](uint32_t a, uint32_t b) {
      return nodes_[a].id < nodes_[b].id;
    });
    members.insert(at, index);
  }
  ++structure_version_;
  return Status::ok();
}

void Snapshot::count_replica(uint32_t service, uint32_t node_index, int delta) {
  Node& node = nodes_[node_index];
  log_change(node_index);
  auto it = std::lower_bound(node.service_replicas.begin(), node.service_replicas.end(),
                             std::pair<uint32_t, uint32_t>{service, 0});
  if (it == node.service_replicas.end() || it->first != service) {
    if (delta < 0) return;
    it = node.service_replicas.insert(it, {service, 0});
  }
  it->second = static_cast<uint32_t>(static_cast<int64_t>(it->second) + delta);
  if (it->second == 0) node.service_replicas.erase(it);
  node.replicas = static_cast<uint32_t>(std::max<int64_t>(0, static_cast<int64_t>(node.replicas) + delta));
  refresh_hot(node_index);

  auto& per_node = service_nodes_[service];
  auto at = std::lower_bound(per_node.begin(), per_node.end(), std::pair<uint32_t, uint32_t>{node_index, 0});
  if (at == per_node.end() || at->first != node_index) at = per_node.insert(at, {node_index, 0});
  at->second = static_cast<uint32_t>(std::max<int64_t>(0, static_cast<int64_t>(at->second) + delta));
  if (at->second == 0) per_node.erase(at);

  auto& per_center = service_centers_[service];
  if (per_center.size() < centers_.size()) per_center.resize(centers_.size(), 0);
  per_center[node.center] = static_cast<uint32_t>(static_cast<int64_t>(per_center[node.center]) + delta);
}

Status Snapshot::add_service_replica(std::string_view service_id, std::string_view node_id) {
  if (service_id.empty()) return Status::invalid_argument("service id is empty");
  const auto node = node_index(node_id);
  if (!node) return Status::invalid_argument("unknown node '" + std::string(node_id) + "'");
  count_replica(intern(services_, service_id), *node, +1);
  return Status::ok();
}

Status Snapshot::set_node_state(std::string_view node_id, bool alive, bool draining) {
  const auto node = node_index(node_id);
  if (!node) return Status::not_found("unknown node '" + std::string(node_id) + "'");
  nodes_[*node].alive = alive;
  nodes_[*node].draining = draining;
  log_change(*node);
  refresh_hot(*node);
  return Status::ok();
}

Status Snapshot::set_node_outstanding(std::string_view node_id, uint32_t outstanding) {
  const auto node = node_index(node_id);
  if (!node) return Status::not_found("unknown node '" + std::string(node_id) + "'");
  nodes_[*node].outstanding = outstanding;
  hot_[*node].outstanding = outstanding;
  log_change(*node);
  return Status::ok();
}

void Snapshot::refresh_center_bounds(uint32_t center) {
  uint64_t max_gpu = 0, max_ram = 0;
  int max_cores = 0;
  for (uint32_t i : center_members_[center]) {
    const NodeHot& h = hot_[i];
    max_gpu = std::max(max_gpu, h.max_free_gpu);
    max_ram = std::max(max_ram, h.free_ram);
    max_cores = std::max(max_cores, h.free_cores);
  }
  center_max_gpu_[center] = max_gpu;
  center_max_ram_[center] = max_ram;
  center_max_cores_[center] = max_cores;
  uint32_t at_gpu = 0, at_ram = 0, at_cores = 0;
  for (uint32_t i : center_members_[center]) {
    const NodeHot& h = hot_[i];
    at_gpu += h.max_free_gpu == max_gpu ? 1 : 0;
    at_ram += h.free_ram == max_ram ? 1 : 0;
    at_cores += h.free_cores == max_cores ? 1 : 0;
  }
  center_at_max_gpu_[center] = at_gpu;
  center_at_max_ram_[center] = at_ram;
  center_at_max_cores_[center] = at_cores;
}

void Snapshot::update_center_bounds(uint32_t center, const NodeHot& old, const NodeHot& now) {
  bool rescan = false;
  auto move = [&rescan](auto& max, uint32_t& at_max, auto before, auto after) {
    if (before == after) return;
    if (after > max) {
      max = after;
      at_max = 1;
    } else if (after == max) {
      ++at_max;
    } else if (before == max && --at_max == 0) {
      rescan = true;
    }
  };
  move(center_max_gpu_[center], center_at_max_gpu_[center], old.max_free_gpu, now.max_free_gpu);
  move(center_max_ram_[center], center_at_max_ram_[center], old.free_ram, now.free_ram);
  move(center_max_cores_[center], center_at_max_cores_[center], old.free_cores, now.free_cores);
  if (rescan) refresh_center_bounds(center);
}

// ---- reservations ---------------------------------------------------------------

Status Snapshot::reserve(const ReplicaRequest& request, std::string_view node_id,
                         const Assignment& a) {
  if (request.replica_id.empty()) return Status::invalid_argument("replica_id is empty");
  if (request.service_id.empty()) return Status::invalid_argument("service_id is empty");
  if (const Reservation* held = find_reservation(request.replica_id)) {
    if (held->node_id == node_id && held->assignment == a) return Status::ok();
    return Status::conflict("replica " + request.replica_id + " is already reserved on node " +
                            held->node_id);
  }
  const auto index = node_index(node_id);
  if (!index) return Status::not_found("unknown node '" + std::string(node_id) + "'");
  return reserve_at(request, *index, a);
}

Status Snapshot::reserve_at(const ReplicaRequest& request, uint32_t at, const Assignment& a) {
  if (request.replica_id.empty()) return Status::invalid_argument("replica_id is empty");
  if (request.service_id.empty()) return Status::invalid_argument("service_id is empty");
  if (at >= nodes_.size()) return Status::not_found("no node at index " + std::to_string(at));
  if (const Reservation* held = find_reservation(request.replica_id)) {
    if (held->node == at && held->assignment == a) return Status::ok();
    return Status::conflict("replica " + request.replica_id + " is already reserved on node " +
                            held->node_id);
  }
  Node& node = nodes_[at];
  if (a.cpu_cores < 0 || a.cpu_cores > node.free_cpu_cores) {
    return Status::conflict("node " + node.id + " no longer has " + std::to_string(a.cpu_cores) +
                            " free CPU cores");
  }
  if (a.kind == DeviceKind::kGpu) {
    if (a.gpu < 0 || a.gpu >= static_cast<int>(node.gpus.size())) {
      return Status::invalid_argument("assignment names GPU position " + std::to_string(a.gpu) +
                                      " of node " + node.id + ", which has " +
                                      std::to_string(node.gpus.size()) + " GPUs");
    }
    if (node.gpus[a.gpu].free_bytes < a.memory_bytes) {
      return Status::conflict("GPU " + std::to_string(node.gpus[a.gpu].index) + " of node " + node.id +
                              " no longer has the memory");
    }
    node.gpus[a.gpu].free_bytes -= a.memory_bytes;
  } else if (a.kind == DeviceKind::kCpu) {
    if (node.free_ram_bytes < a.memory_bytes) {
      return Status::conflict("node " + node.id + " no longer has the RAM");
    }
    node.free_ram_bytes -= a.memory_bytes;
  } else {
    return Status::invalid_argument("an assignment is to a cpu or a gpu, not 'any'");
  }
  node.free_cpu_cores -= a.cpu_cores;
  const NodeHot before = hot_[at];
  refresh_hot(at);
  update_center_bounds(node.center, before, hot_[at]);

  Reservation r;
  r.replica_id = request.replica_id;
  r.node_id = node.id;
  r.node = at;
  r.service = intern(services_, request.service_id);
  r.assignment = a;
  count_replica(r.service, r.node, +1);
  reservations_.emplace(r.replica_id, std::move(r));
  return Status::ok();
}

bool Snapshot::unreserve(std::string_view replica_id) {
  auto it = reservations_.find(replica_id);
  if (it == reservations_.end()) return false;
  const Reservation& r = it->second;
  Node& node = nodes_[r.node];
  if (r.assignment.kind == DeviceKind::kGpu) {
    node.gpus[r.assignment.gpu].free_bytes += r.assignment.memory_bytes;
  } else {
    node.free_ram_bytes += r.assignment.memory_bytes;
  }
  node.free_cpu_cores += r.assignment.cpu_cores;
  const NodeHot before = hot_[r.node];
  refresh_hot(r.node);
  update_center_bounds(node.center, before, hot_[r.node]);
  count_replica(r.service, r.node, -1);
  reservations_.erase(it);
  return true;
}

const Reservation* Snapshot::find_reservation(std::string_view replica_id) const {
  auto it = reservations_.find(replica_id);
  return it == reservations_.end() ? nullptr : &it->second;
}

// ---- lookups ----------------------------------------------------------------------

const std::vector<uint32_t>& Snapshot::id_ranks() const {
  if (id_ranks_.size() != nodes_.size()) {
    id_ranks_.assign(nodes_.size(), 0);
    uint32_t rank = 0;
    for (const auto& [id, index] : node_by_id_) id_ranks_[index] = rank++;  // the map is in id order
  }
  return id_ranks_;
}

const Node* Snapshot::find_node(std::string_view id) const {
  const auto index = node_index(id);
  return index ? &nodes_[*index] : nullptr;
}

std::optional<uint32_t> Snapshot::node_index(std::string_view id) const {
  auto it = node_by_id_.find(id);
  if (it == node_by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> Snapshot::center_index(std::string_view id) const {
  auto it = center_by_id_.find(id);
  if (it == center_by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> Snapshot::gpu_model_id(std::string_view model) const {
  auto it = gpu_models_.find(fold_case(model));
  if (it == gpu_models_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> Snapshot::region_id(std::string_view region) const {
  auto it = regions_.find(region_key(region));
  if (it == regions_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> Snapshot::model_key_id(std::string_view key) const {
  auto it = model_keys_.find(key);
  if (it == model_keys_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> Snapshot::service_key(std::string_view service_id) const {
  auto it = services_.find(service_id);
  if (it == services_.end()) return std::nullopt;
  return it->second;
}

const std::vector<std::pair<uint32_t, uint32_t>>* Snapshot::service_node_replicas(uint32_t service) const {
  auto it = service_nodes_.find(service);
  return it == service_nodes_.end() ? nullptr : &it->second;
}

const std::vector<uint32_t>* Snapshot::service_center_replicas(uint32_t service) const {
  auto it = service_centers_.find(service);
  return it == service_centers_.end() ? nullptr : &it->second;
}

}  // namespace scn::scheduler
