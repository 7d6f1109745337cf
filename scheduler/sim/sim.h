// `scn sim`: the real placement framework (framework.h, the default profile
// and its plugins, reserve/unreserve, queue sort) driven in-process over a
// SIMULATED national pool, with a stream of tenant launches, scale changes,
// service stops, node failures and recoveries. No agents, no database.
//
// Contract:
//  - The pool: `centers` centers, one per province (30 of the 31 mainland
//    provinces for 30 centers; names repeat beyond 31), `nodes_per_center`
//    nodes each. One center in six (index % 6 == 5) is CPU-only (96 cores,
//    512 GiB RAM); the others hold 8-GPU nodes (128 cores, 1 TiB RAM) of one
//    model per node drawn from the GPU mix (default H200 141 GB, H100 80 GiB,
//    A100-80G 80 GiB, Ascend-910B 64 GiB, L40S 48 GiB, equal weights).
//  - The profile: default_profile() with the latency weight set to
//    `latency_weight`, scoring at most `max_feasible_nodes` feasible nodes.
//  - The models: every file of every card of a catalog (catalog/
//    demo_catalog.json), its memory from catalog::requirements() (weights,
//    KV bytes per token at the engine's element size), the service's context
//    min(card context, one of 4k/8k/16k/32k).
//  - The events, all drawn from one splitmix64 stream seeded by `seed`:
//    launch (50%: a tenant of 200, each homed in a province, launches a
//    service of 1-4 replicas; 15% of tenants restrict regions to their own
//    and two others, 15% of services restrict the GPU model, small models may
//    ask for CPU), scale change (25%: a live service to 1-6 replicas), stop
//    (10%), node failure (8%: its replicas go back to pending and are
//    replaced in the same cycle) and recovery (7%). After each event one
//    scheduling cycle places the pending replicas in queue-sort order
//    (retrying at most `retry_per_cycle` older pending ones, only after an
//    event that freed capacity, each with a doubling backoff of 1..1,024
//    events, as Kubernetes' unschedulable queue). `saturate` then launches services until
//    1,000 launches in a row place nothing, to measure utilisation at
//    saturation.
//  - Invariants (invariants.h) are checked every 1,000 events and at the end
//    over the sim's own record of bound replicas (not the snapshot's
//    counters); any violation is reported and counted.
//  - Timings are the scheduling thread's CPU time (CLOCK_THREAD_CPUTIME_ID)
//    in place() + reserve(): the cost on one core, whatever else the
//    machine runs. The sim is single-threaded; `scn sim` pins it to the CPU
//    it starts on (sim_cli.cpp) unless --no-pin. placements/s counts every
//    decision (placed or left pending) over that time; the event phase's
//    whole CPU time (event generation, bookkeeping, invariant checks) is
//    reported beside it.
//  - Determinism: equal options give equal results except the timings
//    (seconds, placements/s, latencies), which SimResult::to_text prints on
//    lines starting "timing" (omitted with timings = false).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog_file.h"
#include "common/status.h"
#include "scheduler/invariants.h"

namespace scn::scheduler::sim {

struct SimOptions {
  int centers = 30;
  int nodes_per_center = 500;
  uint64_t seed = 1;
  int events = 20000;
  // "MODEL:weight,..." over H200, H100, A100-80G, Ascend-910B, L40S.
  std::string gpu_mix = "H200:1,H100:1,A100-80G:1,Ascend-910B:1,L40S:1";
  uint32_t max_feasible_nodes = 100;  // Profile::max_feasible_nodes (0: score all)
  int retry_per_cycle = 8;
  double latency_weight = 6;  // the default profile's, raised: tenants here prefer their province
  bool saturate = false;
  int64_t lost_ttl_ms = 30000;
};

struct SimResult {
  int nodes = 0;
  int gpus = 0;
  int events = 0, launches = 0, scale_changes = 0, stops = 0, failures = 0, recoveries = 0;
  int64_t decisions = 0;     // place() calls
  int64_t placements = 0;    // decisions that placed
  int64_t unschedulable = 0; // decisions that left the replica pending
  int live_replicas = 0, pending_replicas = 0;
  double gpu_memory_utilisation = 0;  // reserved / total GPU memory of the alive nodes at the end
  double fragmentation = 0;  // free GPU memory in pieces < fragment_bytes / free GPU memory
  uint64_t fragment_bytes = 0;
  double preferred_region_share = 0;  // placed GPU+CPU replicas in their tenant's province
  double saturation_utilisation = -1;  // after `saturate` (-1: not run)
  std::vector<Violation> violations;
  int invariant_checks = 0;
  uint64_t digest = 0;  // FNV-1a over every decision (node, GPU) in order
  std::string example_why_here, example_why_pending;
  // Timings (vary run to run).
  double seconds = 0;  // in place() + reserve()
  // Decisions (placed or left pending) per second of `seconds`: the
  // scheduler's rate, the sim's own event generation and bookkeeping not
  // counted.
  double placements_per_second = 0;
  double placed_per_second = 0;     // the same counting placed decisions only
  double event_phase_seconds = 0;   // CPU time of the whole event phase (sim included)
  double p50_us = 0, p99_us = 0, max_us = 0;

  std::string to_text(bool timings = true) const;
};

// InvalidArgument for centers < 1, nodes_per_center < 1, events < 0, a bad
// gpu mix, or a catalog without models.
Result<SimResult> run_sim(const SimOptions& options, const catalog::Catalog& catalog);

// The demo catalog: `path` when not empty, else the first of
// $SCN_SOURCE_DIR/catalog/demo_catalog.json, ./catalog/demo_catalog.json,
// <dir of the running binary>/../catalog/demo_catalog.json that exists.
Result<catalog::Catalog> load_sim_catalog(const std::string& path);

}  // namespace scn::scheduler::sim
