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
//  - Every error body is {"error": {"type", "message", "param", "code"}}.
//  - Metrics (Prometheus, on the given registry), all prefixed scn_infer_:
//    requests_total{endpoint,status}, prompt_tokens_total,
//    completion_tokens_total, queue_depth, requests_in_flight,
//    time_to_first_token_seconds and token_latency_seconds histograms,
//    tokens_per_second (decode rate of the last finished request).
#pragma once

#include <cstdint>
#include <string>

#include "common/http/server.h"
#include "common/metrics.h"
#include "inference/engine/engine.h"

namespace scn::inference {

class InferenceService {
 public:
  // `engine` and `registry` must outlive the service. `model_id` is the id
  // served by /v1/models ("" : the engine's model_name()).
  InferenceService(Engine& engine, std::string model_id, metrics::Registry& registry);

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

  Engine& engine_;
  std::string model_id_;
  metrics::Registry& registry_;
  int64_t created_ = 0;  // load time, unix seconds
  metrics::Counter& prompt_tokens_;
  metrics::Counter& completion_tokens_;
  metrics::Gauge& in_flight_;
  metrics::Gauge& tokens_per_second_;
  metrics::Histogram& ttft_;
  metrics::Histogram& token_latency_;
};

}  // namespace scn::inference
