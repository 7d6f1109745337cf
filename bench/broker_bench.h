// `scn bench broker`: what the broker's gateway costs, in one run.
//
// Contract:
//  - run_broker_bench() makes a scratch database on --pg-url's server
//    (dropped at the end), a tenant, an API key without limits, and two
//    services whose routes it writes to Redis (scn:routes:{id}): "model",
//    served by a `scn infer --model F` it starts, and "canned", served by an
//    in-process one-thread HTTP server that answers a fixed completion at
//    once (bench/canned_upstream.h). It then starts `scn broker` (this
//    executable, or --broker-binary) on that database and Redis.
//  - Each phase sends POST /v1/completions {"model", "prompt", "max_tokens":
//    1, "temperature": 0} (non-streaming) over `clients` keep-alive
//    connections driven by one epoll loop, for `seconds` (after a short
//    warm-up), and reports requests/s and latency p50/p99 of the answers
//    (non-200 answers are counted as errors):
//      direct-model   the replica itself;
//      broker-model   the same replica through the broker;
//      direct-canned  the canned server itself;
//      broker-canned  the canned server through the broker (the proxy path
//                     alone: the target is >= 20,000 requests/s);
//      broker-canned-limited  the same with the tenant's requests and
//                     tokens per minute set (huge): the Redis rate limiter
//                     on every request.
//    Added latency is measured with one client (sequential requests):
//    broker minus direct, p50 and p99, for the replica and the canned server.
//  - Errors (servers that cannot be started, PostgreSQL or Redis missing)
//    are a Status; everything started is stopped.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace scn::bench {

struct BrokerBenchOptions {
  std::string model_path;  // required: the GGUF the replica serves
  std::string pg_url;      // a PostgreSQL server (SCN_PG_URL)
  std::string redis_url;   // SCN_REDIS_URL
  std::string scn_binary;  // "" = this executable
  int clients = 64;
  double seconds = 5;
  int infer_threads = 0;   // --threads of `scn infer` (0: its default)
  int broker_workers = 0;  // --workers of `scn broker` (0: its default)
  int latency_requests = 2000;  // sequential requests per latency phase
  // Only the phases named here (comma-separated, e.g. "broker-canned"; ""
  // = all): for profiling one phase (perf stat -p <broker pid>).
  std::string phases;
  std::string broker_binary;  // the `scn` that runs the broker ("" = scn_binary): A/B runs
};

struct PhaseResult {
  std::string name;
  int clients = 0;
  long long requests = 0;
  long long errors = 0;
  double seconds = 0;
  double requests_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  // The broker's CPU time (user + system, /proc/<pid>/stat) per answered
  // request over the phase; 0 for phases that do not go through it. On a
  // shared machine this, not requests/s, says what the broker costs:
  // 2 cores / this = the requests/s it could serve with both.
  double broker_cpu_us_per_request = 0;
  // The same for this process (the load generator and the canned upstream)
  // and for the replica (`scn infer`), every phase: with everything on one
  // machine, cores / (sum of these) bounds the requests/s of a phase.
  double bench_cpu_us_per_request = 0;
  double infer_cpu_us_per_request = 0;
};

struct BrokerBenchReport {
  std::vector<PhaseResult> phases;
  // One client: broker minus direct.
  double added_p50_ms_model = 0, added_p99_ms_model = 0;
  double added_p50_ms_canned = 0, added_p99_ms_canned = 0;
  std::string infer_command;
  std::string broker_command;
};

Result<BrokerBenchReport> run_broker_bench(const BrokerBenchOptions& options);

// `scn bench broker [--model F] [--pg-url URL] [--redis-url URL]
// [--clients 64] [--seconds 5] [--latency-requests 2000] [--threads N]
// [--workers N] [--json]`: --model defaults to
// $SCN_SHARED_DIR/models/stories260K.gguf, the URLs to SCN_PG_URL and
// SCN_REDIS_URL. Exit 0, 2 on bad flags, 1 when the run failed.
int broker_bench_main(int argc, char** argv);

// The report as text (one line per phase) and as JSON.
std::string broker_report_text(const BrokerBenchReport& report);
std::string broker_report_json(const BrokerBenchReport& report);

}  // namespace scn::bench
