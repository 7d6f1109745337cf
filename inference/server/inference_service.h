// The HTTP routes of `scn infer`: one Engine served through the
// OpenAI-compatible API, plus /health, /metrics, /tokenize and /detokenize.
//
// Contract:
//  - Routes (add_routes): GET /health, GET /metrics, GET /v1/models,
//    POST /v1/completions, POST /v1/chat/completions, POST /tokenize,
//    POST /detokenize. Handlers are blocking and run on the http::Server's
//    worker pool; the engine queues generations (429 when its queue is full).
//  - `model` in a request may be absent, the served id (--alias, else the
//    engine's model_name()) or the engine's model_name(); anything else is
//    404 with code "model_not_found".
//  - Prompts: /v1/completions text is tokenized with BOS as the model's
//    metadata says and special tokens parsed (as llama.cpp); token-id prompts
//    are checked against the vocabulary (400). Chat messages are rendered
//    with the engine's ChatTemplate (generation prompt added) and tokenized
//    the same way. A prompt that leaves no room for one token in the context
//    is 400 "context_length_exceeded".
//  - /tokenize {"content", "add_special"=false, "parse_special"=true} ->
//    {"tokens": [...]}; /detokenize {"tokens": [...]} -> {"content": ...}
//    (valid UTF-8, U+FFFD for incomplete bytes); ids outside the vocabulary
//    are 400.
//  - Every error body is {"error": {"type", "message", "param", "code"}}; a
//    full engine queue is 429 (code "queue_full") with `Retry-After: 1`.
//  - With a worker secret (set_worker_secret), every route but GET /health
//    needs "Authorization: Bearer <secret>", else 401 (the JSON error body).
//  - GET /health is always 200 once the model is loaded (so that load
//    balancers can read the body): {"status": "ready"|"busy", "queued",
//    "running", "max_queue"}; "busy" when the engine's waiting requests
//    reached max_queue (a new request would be answered 429 unless a
//    running one finishes first). With max_queue < 0 (unknown) it is
//    always "ready".
//  - Usage carries prompt_tokens_details.cached_tokens (prefix cache).
//  - Metrics (Prometheus, on the given registry), all prefixed scn_infer_:
//    requests_total{endpoint,status}, prompt_tokens_total,
//    completion_tokens_total, queue_depth (waiting + running),
//    requests_in_flight, time_to_first_token_seconds,
//    token_latency_seconds (between consecutive tokens) and
//    time_per_output_token_seconds (per request) histograms,
//    tokens_per_second (decode rate of the last finished request); from
//    Engine::stats(): requests_waiting, sequences_running, kv_blocks_total,
//    kv_blocks_used, kv_blocks_free, prefix_hit_rate (cached / prompt
//    tokens since start), engine_prompt_tokens_total,
//    cached_prompt_tokens_total, generated_tokens_total, preemptions_total,
//    engine_requests_total; generation_tokens_per_second (generated tokens
//    per second over the last ~10 s, sampled at request ends and scrapes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/http/server.h"
#include "common/metrics.h"
#include "inference/engine/engine.h"

namespace scn::inference {

class InferenceService {
 public:
  // `engine` and `registry` must outlive the service. `model_id` is the id
  // served by /v1/models ("" : the engine's model_name()). `max_queue`: the
  // engine's EngineOptions::max_queue, for /health (< 0: unknown).
  InferenceService(Engine& engine, std::string model_id, metrics::Registry& registry,
                   int max_queue = -1);
  ~InferenceService();

  // Worker authentication (docs/API.md, "Worker authentication"): with a
  // non-empty secret (set before add_routes), every route but GET /health
  // answers 401 (code "invalid_worker_secret") unless the request carries
  // "Authorization: Bearer <secret>" (constant-time comparison).
  void set_worker_secret(std::string secret) { worker_secret_ = std::move(secret); }
  void add_routes(http::Server& server);

  const std::string& model_id() const { return model_id_; }

  // The handlers (public for tests with detached Responses).
  void health(const http::Request& req, http::Response& resp);
  void metrics(const http::Request& req, http::Response& resp);
  void models(const http::Request& req, http::Response& resp);
  void completions(const http::Request& req, http::Response& resp);
  void chat_completions(const http::Request& req, http::Response& resp);
  void tokenize(const http::Request& req, http::Response& resp);
  void detokenize(const http::Request& req, http::Response& resp);

 private:
  int run_openai(const http::Request& req, http::Response& resp, bool chat);
  void count(const std::string& endpoint, int status);

  struct TokenRate;  // generation_tokens_per_second's window

  Engine& engine_;
  int max_queue_ = -1;
  std::string worker_secret_;  // "" = no worker authentication
  std::unique_ptr<TokenRate> rate_;
  std::string model_id_;
  metrics::Registry& registry_;
  int64_t created_ = 0;  // load time, unix seconds
  metrics::Counter& prompt_tokens_;
  metrics::Counter& completion_tokens_;
  metrics::Gauge& in_flight_;
  metrics::Gauge& tokens_per_second_;
  metrics::Histogram& ttft_;
  metrics::Histogram& token_latency_;
  metrics::Histogram& tpot_;
};

}  // namespace scn::inference
