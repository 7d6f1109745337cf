// A micro-benchmark of placement over a synthetic national pool (`scn bench
// scheduler` may print it).
//
// Contract:
//  - make_synthetic_pool() builds a Snapshot of `nodes` nodes spread evenly
//    over `centers` centers in different provinces, every node flagged
//    simulated: one center in six is CPU-only (96 cores, 512 GiB), the others
//    hold 8-GPU nodes of one model per node (H200 141 GB, A100-80G, Ascend-910B
//    64 GB, L40S 48 GB) with 128 cores and 1 TiB RAM; a few catalog models are
//    already cached on some nodes. Same arguments, same pool.
//  - run_placement_bench() places `replicas` replicas one after another with
//    the default profile (or max_feasible_nodes sampling), reserving each
//    decision so the next sees it, like one long scheduling cycle. Requests
//    mix real model sizes (stories260K .. Llama 3.3 70B, Q4_K_M), device kinds,
//    data-residency lists and services of 1-4 replicas. Deterministic for a
//    seed: the placement digest (over the chosen nodes and GPUs) is equal for
//    equal options; only the timings vary.
//  - Timings are wall-clock on the calling thread (one core).
#pragma once

#include <cstdint>
#include <string>

#include "scheduler/snapshot.h"

namespace scn::scheduler {

struct PlacementBenchOptions {
  int nodes = 10000;
  int centers = 30;
  int replicas = 20000;
  uint64_t seed = 1;
  uint32_t max_feasible_nodes = 0;  // Profile::max_feasible_nodes
};

struct PlacementBenchResult {
  int decisions = 0;
  int placed = 0;
  int unschedulable = 0;
  double seconds = 0;               // placing and reserving, all decisions
  double decisions_per_second = 0;
  double p50_us = 0;                // one decision (place + reserve)
  double p99_us = 0;
  double gpu_memory_used = 0;       // reserved / total GPU memory at the end, 0..1
  uint64_t digest = 0;              // FNV-1a over the decisions
  std::string example_why_here;     // why() of the first placed replica
  std::string example_why_pending;  // why() of the first unschedulable one ("" if none)

  std::string to_string() const;   // a few lines for humans
};

Snapshot make_synthetic_pool(int nodes, int centers, uint64_t seed);

// InvalidArgument for nodes < 1, centers < 1 or > nodes, replicas < 0.
Result<PlacementBenchResult> run_placement_bench(const PlacementBenchOptions& options);

// Decisions per second for `nodes` nodes in 30 centers and `replicas`
// replicas (seed 1, every feasible node scored); 0 for invalid arguments.
double run_placement_bench(int nodes, int replicas);

}  // namespace scn::scheduler
