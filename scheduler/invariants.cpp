#include "scheduler/invariants.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "scheduler/assignment.h"

namespace scn::scheduler {

std::vector<Violation> check_invariants(const InvariantInput& in) {
  std::vector<Violation> out;
  std::unordered_map<std::string, const NodeCapacity*> nodes;
  for (const NodeCapacity& n : in.nodes) nodes.emplace(n.node_id, &n);

  // Memory held per (node, GPU index) and CPU-replica RAM per node.
  std::map<std::pair<std::string, int>, uint64_t> gpu_used;
  std::map<std::string, uint64_t> ram_used;
  for (const BoundReplica& r : in.replicas) {
    auto it = nodes.find(r.node_id);
    if (it == nodes.end()) {
      out.push_back({"gpu_overcommit", r.node_id, "replica " + r.replica_id + " is bound to an unknown node"});
      continue;
    }
    const NodeCapacity& n = *it->second;
    if (r.kind == DeviceKind::kGpu) {
      gpu_used[{r.node_id, r.gpu_index}] += r.memory_bytes;
    } else {
      ram_used[r.node_id] += r.memory_bytes;
    }
    if (r.live && n.lost && n.lost_for_ms > in.lost_ttl_ms) {
      out.push_back({"replica_on_lost_node", r.replica_id,
                     "bound to node " + r.node_id + ", lost for " + std::to_string(n.lost_for_ms) +
                         " ms (TTL " + std::to_string(in.lost_ttl_ms) + " ms)"});
    }
  }
  for (const auto& [key, used] : gpu_used) {
    const NodeCapacity& n = *nodes.at(key.first);
    const std::string subject = key.first + "/gpu " + std::to_string(key.second);
    auto g = std::find_if(n.gpus.begin(), n.gpus.end(), [&](const auto& p) { return p.first == key.second; });
    if (g == n.gpus.end()) {
      out.push_back({"gpu_overcommit", subject, "replicas hold a GPU the node does not have"});
    } else if (used > g->second) {
      out.push_back({"gpu_overcommit", subject,
                     format_bytes(used, true) + " reserved on a " + format_bytes(g->second) + " GPU"});
    }
  }
  for (const auto& [node, used] : ram_used) {
    const NodeCapacity& n = *nodes.at(node);
    if (used > n.ram_bytes) {
      out.push_back({"ram_overcommit", node,
                     format_bytes(used, true) + " of RAM reserved on a node with " + format_bytes(n.ram_bytes)});
    }
  }
  for (const ServiceBounds& s : in.services) {
    if (s.replicas > s.max_replicas) {
      out.push_back({"service_above_max", s.service_id,
                     std::to_string(s.replicas) + " replicas, maximum " + std::to_string(s.max_replicas)});
    } else if (s.replicas < s.min_replicas && !s.has_reason) {
      out.push_back({"service_below_min", s.service_id,
                     std::to_string(s.replicas) + " replicas, minimum " + std::to_string(s.min_replicas) +
                         ", and no reason recorded"});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Violation& a, const Violation& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.subject < b.subject;
  });
  return out;
}

std::vector<NodeCapacity> capacity_of(const Snapshot& snapshot) {
  std::vector<NodeCapacity> out;
  out.reserve(snapshot.nodes().size());
  for (const Node& n : snapshot.nodes()) {
    NodeCapacity c;
    c.node_id = n.id;
    for (const Gpu& g : n.gpus) c.gpus.emplace_back(g.index, g.memory_bytes);
    c.ram_bytes = n.ram_bytes;
    c.lost = !n.alive;
    out.push_back(std::move(c));
  }
  return out;
}

std::string format_violations(const std::vector<Violation>& violations) {
  std::string s;
  for (const Violation& v : violations) s += v.kind + " " + v.subject + ": " + v.detail + "\n";
  return s;
}

}  // namespace scn::scheduler
