// Helpers for the scheduler's tests: small pools written in one line each, and
// one plugin run against one node (test code only; header-only).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "scheduler/assignment.h"
#include "scheduler/plugin.h"
#include "scheduler/snapshot.h"

namespace scn::scheduler::test {

inline Center center(std::string id, std::string region, double gpu_hour = 10, double core_hour = 0.1,
                     CenterStatus status = CenterStatus::kActive) {
  Center c;
  c.name = id;
  c.id = std::move(id);
  c.region = std::move(region);
  c.price_gpu_hour = gpu_hour;
  c.price_cpu_core_hour = core_hour;
  c.status = status;
  return c;
}

// A node with `gpus` GPUs of `model`, each `memory_gib` large with `free_gib` free.
inline Node gpu_node(std::string id, std::string center_id, std::string model, int gpus, double memory_gib,
                     double free_gib, int cores = 32, double ram_gib = 256) {
  Node n;
  n.name = id;
  n.id = std::move(id);
  n.center_id = std::move(center_id);
  n.cpu_cores = n.free_cpu_cores = cores;
  n.ram_bytes = n.free_ram_bytes = static_cast<uint64_t>(ram_gib * kGiB);
  for (int g = 0; g < gpus; ++g) {
    n.gpus.push_back({.free_bytes = static_cast<uint64_t>(free_gib * kGiB),
                      .memory_bytes = static_cast<uint64_t>(memory_gib * kGiB),
                      .index = g,
                      .device_id = 100 + g,
                      .model = model});
  }
  return n;
}

inline Node cpu_node(std::string id, std::string center_id, int cores, double ram_gib, double free_ram_gib) {
  Node n;
  n.name = id;
  n.id = std::move(id);
  n.center_id = std::move(center_id);
  n.cpu_cores = n.free_cpu_cores = cores;
  n.ram_bytes = static_cast<uint64_t>(ram_gib * kGiB);
  n.free_ram_bytes = static_cast<uint64_t>(free_ram_gib * kGiB);
  n.cpu_device_id = 7;
  return n;
}

// A replica whose memory need is exactly known: weights `weights_gib`, no KV
// cache, so need(gpu) = weights x 17/16 + 0.5 GiB, need(cpu) = weights x 17/16 + 64 MiB.
inline ReplicaRequest request(double weights_gib, DeviceKind kind = DeviceKind::kGpu,
                              std::string service = "svc-1", std::string replica = "r-1") {
  ReplicaRequest r;
  r.replica_id = std::move(replica);
  r.service_id = std::move(service);
  r.tenant_id = "tenant-1";
  r.model.model_key = "model-a";
  r.model.weight_bytes = static_cast<uint64_t>(weights_gib * kGiB);
  r.model.kv_bytes_per_token = 0;
  r.model.context_tokens = 4096;
  r.device_kind = kind;
  return r;
}

struct Verdict {
  bool pass = false;
  std::string reason;  // "" when passed
};

// One filter on one node, as the framework runs it: center level, then node level.
inline Verdict run_filter(const FilterPlugin& f, const Snapshot& s, const ReplicaRequest& r,
                          const std::string& node_id) {
  const Cycle cycle(s, r);
  const NodeEval eval(cycle, *s.node_index(node_id));
  if (!f.filter_center(cycle, eval.center())) return {false, f.center_reason(cycle, eval.center())};
  if (!f.filter(cycle, eval)) return {false, f.reason(cycle, eval)};
  return {true, ""};
}

// One score plugin's raw score on one node (the node must fit the replica).
inline double run_score(const ScorePlugin& p, const Snapshot& s, const ReplicaRequest& r,
                        const std::string& node_id) {
  const Cycle cycle(s, r);
  const NodeEval eval(cycle, *s.node_index(node_id));
  return p.score(cycle, eval);
}

}  // namespace scn::scheduler::test
