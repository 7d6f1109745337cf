// The pure parts of `scn bench serve`: prompt building, reading streamed
// completion chunks, and the statistics of a run (no sockets, no processes).
//
// Contract:
//  - build_prompts() makes `count` prompts of exactly `prompt_tokens` token
//    ids drawn (seeded, deterministic) from `pool`. With shared_prefix K > 0
//    every prompt starts with the same K ids; the remaining ids are drawn
//    per prompt, so prompts differ right after the prefix (the first id
//    after the prefix differs between any two prompts when the pool has
//    more than one id). Requires pool non-empty, prompt_tokens >= 1 and
//    0 <= shared_prefix < prompt_tokens (else empty result).
//  - read_stream_event() reads one SSE `data:` payload of /v1/completions:
//    the text of choice 0, finish, usage (prompt, completion and
//    prompt_tokens_details.cached_tokens when present), an error object, or
//    "[DONE]". Malformed JSON is reported as an error, never thrown.
//  - percentile() is nearest-rank on a copy (p in [0, 100]); 0 for no data.
//  - summarize() aggregates per-request samples: generated tok/s is the sum
//    of completion tokens over the wall time of the run; TTFT and TPOT
//    percentiles come from successful requests (TPOT only from those with
//    >= 2 tokens: (last - first token time) / (tokens - 1)); the prefix hit
//    rate is cached / prompt tokens of successful requests that reported
//    usage (-1 when none did).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scn::bench {

std::vector<std::vector<int32_t>> build_prompts(const std::vector<int32_t>& pool, int count,
                                                int prompt_tokens, int shared_prefix,
                                                uint64_t seed);

struct StreamEvent {
  bool done = false;          // "[DONE]"
  bool error = false;         // an error event or malformed JSON
  std::string error_message;
  std::string text;           // choices[0].text (may be empty)
  bool finished = false;      // choices[0].finish_reason set
  bool has_usage = false;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;      // 0 when the server does not report it
  bool has_cached = false;    // usage.prompt_tokens_details.cached_tokens present
};
StreamEvent read_stream_event(std::string_view data);

// One request of the run as the client saw it.
struct RequestSample {
  int http_status = 0;        // 0: no answer (connection error)
  bool ok = false;            // 200 and a complete stream ([DONE], no error)
  double ttft = 0;            // send -> first non-empty text chunk (s)
  double last_token = 0;      // send -> last non-empty text chunk (s)
  int completion_tokens = 0;  // from usage, else text chunks
  int prompt_tokens = 0;
  int cached_tokens = 0;
  bool has_usage = false;
  bool has_cached = false;
  std::string error;
};

double percentile(std::vector<double> values, double p);

struct ServeStats {
  int requests = 0, ok = 0, failed = 0, rejected = 0;  // rejected: 429 (not in failed)
  int64_t generated_tokens = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0;
  double wall_seconds = 0;
  double tok_s = 0;                 // generated tokens / wall time
  double ttft_p50 = 0, ttft_p99 = 0;
  double tpot_p50 = 0, tpot_p99 = 0;
  double prefix_hit_rate = -1;      // -1: not reported by the server
  std::string first_error;          // of the first failed request
};
ServeStats summarize(const std::vector<RequestSample>& samples, double wall_seconds);

}  // namespace scn::bench
