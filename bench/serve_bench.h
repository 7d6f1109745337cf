// `scn bench serve`: many concurrent streaming clients against an
// OpenAI-compatible server (a running one at --url, or a `scn infer` this
// benchmark starts itself with --model), and what they measured.
//
// Contract:
//  - With model_path set, run_serve_bench() starts `<scn_binary> infer
//    --model F --port <free> [--threads N] [--max-queue Q] [--device D]
//    [--parallel C when clients C > 32 and server_args has no --parallel]
//    <server_args>`,
//    waits (up to 120 s) until GET /health answers 200, and terminates it at
//    the end; peak_rss_bytes is its VmHWM (from /proc/<pid>/status, read
//    just before it is stopped). Otherwise it drives `url`; peak RSS is 0.
//  - Prompts are token ids (build_prompts()) drawn from the ids of an
//    ordinary English text tokenized by the server's POST /tokenize; they
//    are sent to POST /v1/completions as {"prompt": [ids], "max_tokens": M,
//    "temperature": T (default 0: greedy, which the engine samples on the
//    device), "ignore_eos": true, "stream": true,
//    "stream_options": {"include_usage": true}} (servers that do not know
//    ignore_eos may stop early; the figures count the tokens really made).
//  - One warm-up request (4 tokens, not counted) runs first: it shares the
//    prompts' prefix when shared_prefix > 0 (the prefix is then already
//    seen, as a common system prompt would be), else it shares nothing.
//  - `clients` threads each keep one keep-alive connection and send
//    requests one after another until `requests` (0: one per client) have
//    been sent; a 429 is counted as rejected, not retried.
//  - Errors (bad options, the server cannot be started or reached, /tokenize
//    fails) are a Status; failed requests are counted in the figures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/serve_stats.h"
#include "common/status.h"

namespace scn::bench {

struct ServeBenchOptions {
  std::string url;                       // e.g. http://127.0.0.1:8080 (when no model_path)
  std::string model_path;                // start `scn infer` on this model
  std::string scn_binary;                // the `scn` to start ("": this executable)
  int threads = 0;                       // --threads of the started server (0: its default)
  std::string device;                    // --device of the started server ("": its default, cpu)
  double temperature = 0;                // of every request, 0..2
  int max_queue = 0;                     // --max-queue of the started server (0: 2 x clients, >= 64)
  std::vector<std::string> server_args;  // more flags for the started server
  int clients = 1;                       // >= 1
  int prompt_tokens = 100;               // >= 1
  int max_tokens = 128;                  // >= 1
  int shared_prefix = 0;                 // 0 <= K < prompt_tokens
  int requests = 0;                      // 0: one per client
  uint64_t seed = 1;
  int timeout_seconds = 300;             // per read/write step of a request
};

struct ServeBenchReport {
  std::string url;
  std::string server_command;  // when started here
  ServeBenchOptions options;
  ServeStats stats;
  uint64_t peak_rss_bytes = 0;  // 0: unknown
};

Result<ServeBenchReport> run_serve_bench(const ServeBenchOptions& options);

std::string format_serve_report(const ServeBenchReport& r);
std::string serve_report_json(const ServeBenchReport& r);

// VmHWM of process `pid` in bytes (0 when unreadable).
uint64_t peak_rss_of(int pid);

}  // namespace scn::bench
