// `scn bench load`: many concurrent streaming clients through two brokers
// against CPU stories260K replicas (issue 9, "Load").
//
// Contract:
//  - run_load_bench() starts a private pool (bench/load_pool.h: own
//    PostgreSQL and Redis in a temporary folder, `schedulers`, `brokers`,
//    `agents`, a service of stories260k with `replicas` replicas), then:
//      broker phase: `clients` closed-loop clients (one thread each, a
//        fresh connection per request), spread evenly over the brokers,
//        each sending streaming completions ("Once upon a time",
//        `max_tokens`, greedy) for `seconds`;
//      direct phase: the same number of clients straight to the replicas'
//        ports (spread evenly) for `direct_seconds`.
//    Every answer is counted: ok (200 stream ending in [DONE], no error
//    event), 429 (intended back-pressure: counted apart), errors (anything
//    else; the first few kept as examples). Time to first token = send to
//    the first SSE data event of ok answers; p50 / p99 per phase.
//  - The brokers' peak memory is VmHWM of /proc/<pid>/status at the end
//    (each broker, and the largest).
//  - Failures to start the pool are a Status; everything is stopped and
//    the folder removed (unless keep_dir).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace scn::bench {

struct LoadBenchOptions {
  int clients = 500;
  double seconds = 60;
  double direct_seconds = 15;
  int max_tokens = 16;
  int brokers = 2;
  int schedulers = 1;
  int agents = 3;
  int replicas = 3;
  int broker_workers = 0;  // --workers of each broker (0: its default)
  std::string scn_binary;  // "" = this executable
  std::string shared_dir;  // ../shared (SCN_SHARED_DIR)
  bool keep_dir = false;
};

struct LoadPhase {
  std::string name;
  int clients = 0;
  double seconds = 0;
  long long ok = 0, rate_limited = 0, errors = 0;
  double ttft_p50_ms = 0, ttft_p99_ms = 0;
  double total_p50_ms = 0, total_p99_ms = 0;
  std::vector<std::string> error_examples;
  double error_rate() const;  // errors / (ok + errors + rate_limited)
};

struct LoadBenchReport {
  std::vector<LoadPhase> phases;
  std::vector<long long> broker_vm_hwm_kib;
  std::string dir;
};

Result<LoadBenchReport> run_load_bench(const LoadBenchOptions& options);

std::string load_report_text(const LoadBenchReport& report);
std::string load_report_json(const LoadBenchReport& report);

// `scn bench load [--clients 500] [--seconds 60] [--direct-seconds 15]
// [--max-tokens 16] [--brokers 2] [--agents 3] [--replicas 3] [--workers N]
// [--keep-dir] [--json]`. Exit 0, 2 on bad flags, 1 when the run failed.
int load_bench_main(int argc, char** argv);

}  // namespace scn::bench
