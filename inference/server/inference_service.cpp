#include "inference/server/inference_service.h"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <utility>

#include "common/crypto/worker_secret.h"
#include "common/log.h"
#include "common/utf8.h"
#include "inference/server/completion_runner.h"
#include "inference/server/openai_api.h"
#include "inference/tokenizer/chat_template.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {
namespace json = boost::json;
namespace {

constexpr const char* kPrefix = "scn_infer_";

std::string metric(const char* name) { return std::string(kPrefix) + name; }

void answer(http::Response& resp, const ApiError& err) { resp.set_json(err.http_status(), err.to_json()); }

// Per-token latencies: 1 ms .. ~4 s.
std::vector<double> token_buckets() { return metrics::exponential_buckets(0.001, 2.0, 13); }

// RAII: one request in flight.
class InFlight {
 public:
  explicit InFlight(metrics::Gauge& g) : g_(g) { g_.inc(); }
  ~InFlight() { g_.dec(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  metrics::Gauge& g_;
};

}  // namespace

// Generated tokens per second over a sliding window of (time, total) samples.
struct InferenceService::TokenRate {
  static constexpr double kWindowSeconds = 10;
  std::mutex mu;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> samples;

  double sample(int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu);
    samples.emplace_back(now, total);
    while (samples.size() > 2 &&
           std::chrono::duration<double>(now - samples[1].first).count() >= kWindowSeconds)
      samples.pop_front();
    const double dt = std::chrono::duration<double>(now - samples.front().first).count();
    if (dt <= 0) return 0;
    return static_cast<double>(total - samples.front().second) / dt;
  }
};

InferenceService::~InferenceService() = default;

InferenceService::InferenceService(Engine& engine, std::string model_id, metrics::Registry& registry,
                                   int max_queue)
    : engine_(engine),
      max_queue_(max_queue),
      rate_(std::make_unique<TokenRate>()),
      model_id_(model_id.empty() ? engine.model_name() : std::move(model_id)),
      registry_(registry),
      created_(std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count()),
      prompt_tokens_(registry.counter(metric("prompt_tokens_total"), "Prompt tokens processed")),
      completion_tokens_(registry.counter(metric("completion_tokens_total"), "Tokens generated")),
      in_flight_(registry.gauge(metric("requests_in_flight"), "Generation requests being answered")),
      tokens_per_second_(registry.gauge(metric("tokens_per_second"),
                                        "Decode rate of the last finished request (tokens/s)")),
      ttft_(registry.histogram(metric("time_to_first_token_seconds"),
                               "Request arrival to first generated token (queueing included)",
                               metrics::default_latency_buckets())),
      token_latency_(registry.histogram(metric("token_latency_seconds"),
                                        "Time between consecutive generated tokens", token_buckets())),
      tpot_(registry.histogram(metric("time_per_output_token_seconds"),
                               "Per request: (last token - first token time) / (tokens - 1)",
                               token_buckets())) {
  Engine* e = &engine_;
  registry.gauge_callback(metric("queue_depth"), "Generation requests waiting or running",
                          [e] { return static_cast<double>(e->queue_depth()); });
  auto gauge = [&](const char* name, const char* help, auto fn) {
    registry.gauge_callback(metric(name), help, [e, fn] { return static_cast<double>(fn(e->stats())); });
  };
  auto counter = [&](const char* name, const char* help, auto fn) {
    registry.counter_callback(metric(name), help, [e, fn] { return static_cast<double>(fn(e->stats())); });
  };
  gauge("requests_waiting", "Generation requests waiting for admission",
        [](const EngineStats& s) { return s.queued; });
  gauge("sequences_running", "Sequences in the running batch", [](const EngineStats& s) { return s.running; });
  gauge("kv_blocks_total", "Blocks in the KV cache pool", [](const EngineStats& s) { return s.kv_blocks_total; });
  gauge("kv_blocks_used", "KV blocks held by running sequences",
        [](const EngineStats& s) { return s.kv_blocks_used; });
  gauge("kv_blocks_free", "KV blocks not held by running sequences",
        [](const EngineStats& s) { return s.kv_blocks_total - s.kv_blocks_used; });
  gauge("prefix_hit_rate", "Prompt tokens served from the prefix cache / prompt tokens, since start",
        [](const EngineStats& s) {
          return s.prompt_tokens_total > 0 ? static_cast<double>(s.cached_prompt_tokens_total) /
                                                 static_cast<double>(s.prompt_tokens_total)
                                           : 0.0;
        });
  counter("engine_prompt_tokens_total", "Prompt tokens of admitted requests (engine)",
          [](const EngineStats& s) { return s.prompt_tokens_total; });
  counter("cached_prompt_tokens_total", "Prompt tokens whose K/V came from the prefix cache",
          [](const EngineStats& s) { return s.cached_prompt_tokens_total; });
  counter("generated_tokens_total", "Tokens generated (engine)",
          [](const EngineStats& s) { return s.generated_tokens_total; });
  counter("preemptions_total", "Sequences preempted (blocks freed, recomputed later)",
          [](const EngineStats& s) { return s.preemptions_total; });
  counter("engine_requests_total", "Requests admitted by the engine",
          [](const EngineStats& s) { return s.requests_total; });
  TokenRate* rate = rate_.get();
  registry.gauge_callback(metric("generation_tokens_per_second"),
                          "Generated tokens per second over the last ~10 s (all requests)",
                          [e, rate] { return rate->sample(e->stats().generated_tokens_total); });
}

void InferenceService::add_routes(http::Server& server) {
  auto bind = [this](void (InferenceService::*fn)(const http::Request&, http::Response&)) {
    return [this, fn](const http::Request& req, http::Response& resp) {
      if (!worker_secret_.empty() &&
          !crypto::bearer_matches(req.header("Authorization"), worker_secret_)) {
        answer(resp, ApiError(Status::unauthenticated(
                                  "this worker accepts requests from brokers only "
                                  "(Authorization: Bearer <worker secret>)"),
                              "", "invalid_worker_secret"));
        return;
      }
      (this->*fn)(req, resp);
    };
  };
  // GET /health stays open: the agent's readiness probe and the brokers' load
  // probe. It reads a snapshot under a lock the engine holds only between
  // steps, so it answers on the IO thread, also when every worker streams.
  server.route_inline("GET", "/health", [this](const http::Request& req, http::Response& resp) {
    health(req, resp);
  });
  server.route("GET", "/metrics", bind(&InferenceService::metrics));
  server.route("GET", "/v1/models", bind(&InferenceService::models));
  server.route("POST", "/v1/completions", bind(&InferenceService::completions));
  server.route("POST", "/v1/chat/completions", bind(&InferenceService::chat_completions));
  server.route("POST", "/tokenize", bind(&InferenceService::tokenize));
  server.route("POST", "/detokenize", bind(&InferenceService::detokenize));
}

void InferenceService::count(const std::string& endpoint, int status) {
  registry_
      .counter(metric("requests_total"), "HTTP requests answered, by endpoint and status",
               {{"endpoint", endpoint}, {"status", std::to_string(status)}})
      .inc();
}

void InferenceService::health(const http::Request&, http::Response& resp) {
  const EngineStats s = engine_.stats();
  const bool busy = max_queue_ >= 0 && s.queued >= std::max(1, max_queue_);
  json::object o{{"status", busy ? "busy" : "ready"},
                 {"queued", s.queued},
                 {"running", s.running},
                 {"max_queue", max_queue_}};
  resp.set_json(200, json::serialize(o));
  count("/health", 200);
}

void InferenceService::metrics(const http::Request&, http::Response& resp) {
  count("/metrics", 200);
  resp.set_content(200, registry_.render(), "text/plain; version=0.0.4; charset=utf-8");
}

void InferenceService::models(const http::Request&, http::Response& resp) {
  resp.set_json(200, models_body(model_id_, created_, engine_.n_ctx()));
  count("/v1/models", 200);
}

void InferenceService::completions(const http::Request& req, http::Response& resp) {
  count("/v1/completions", run_openai(req, resp, false));
}

void InferenceService::chat_completions(const http::Request& req, http::Response& resp) {
  count("/v1/chat/completions", run_openai(req, resp, true));
}

int InferenceService::run_openai(const http::Request& http_req, http::Response& resp, bool chat) {
  InFlight in_flight(in_flight_);
  auto parsed = parse_completion_request(
      http_req.body, chat ? ApiKind::kChatCompletion : ApiKind::kCompletion);
  if (!parsed.ok()) {
    answer(resp, parsed.error());
    return parsed.error().http_status();
  }
  const CompletionRequest& req = parsed.value();
  if (!req.model.empty() && req.model != model_id_ && req.model != engine_.model_name()) {
    ApiError err(Status::not_found("the model '" + req.model + "' does not exist; this server serves '" +
                                   model_id_ + "'"),
                 "model", "model_not_found");
    answer(resp, err);
    return err.http_status();
  }

  const Vocab& vocab = engine_.vocab();
  std::vector<int32_t> prompt;
  if (chat) {
    auto text = engine_.chat_template().apply(req.messages, true);
    if (!text.is_ok()) {
      ApiError err(Status::invalid_argument("the messages cannot be rendered with the model's chat "
                                            "template (" + std::string(engine_.chat_template().name()) +
                                            "): " + text.status().message()),
                   "messages");
      answer(resp, err);
      return err.http_status();
    }
    prompt = vocab.tokenize(text.value(), true, true);
  } else if (req.prompt_is_tokens) {
    for (size_t i = 0; i < req.prompt_tokens.size(); ++i) {
      if (req.prompt_tokens[i] >= vocab.n_tokens()) {
        ApiError err(Status::invalid_argument("token id " + std::to_string(req.prompt_tokens[i]) +
                                              " is outside the vocabulary (0.." +
                                              std::to_string(vocab.n_tokens() - 1) + ")"),
                     "prompt");
        answer(resp, err);
        return err.http_status();
      }
    }
    prompt = req.prompt_tokens;
  } else {
    prompt = vocab.tokenize(req.prompt_text, true, true);
  }
  if (prompt.empty()) {
    ApiError err(Status::invalid_argument("the prompt is empty (no tokens)"), chat ? "messages" : "prompt");
    answer(resp, err);
    return err.http_status();
  }

  ResponseMeta meta;
  meta.kind = req.kind;
  meta.id = make_response_id(req.kind);
  meta.created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  meta.model = req.model.empty() ? model_id_ : req.model;
  meta.logprobs = req.logprobs;
  meta.include_usage = req.include_usage;

  GenerationBackend backend;
  Engine* engine = &engine_;
  backend.generate = [engine](const GenerateRequest& g, const TokenCallback& cb) {
    return engine->generate(g, cb);
  };
  const Vocab* v = &vocab;
  backend.piece = [v](int32_t id) { return v->token_to_piece(id); };
  backend.n_ctx = engine_.n_ctx();

  double interval_sum = 0;  // of all choices (the observer is serialised)
  int intervals = 0;
  RunObserver obs;
  obs.first_token = [this](double s) { ttft_.observe(s); };
  obs.token_interval = [&](double s) {
    token_latency_.observe(s);
    interval_sum += s;
    ++intervals;
  };
  obs.finished = [&](const Usage& u, double) {
    prompt_tokens_.inc(u.prompt_tokens);
    completion_tokens_.inc(u.completion_tokens);
    if (intervals > 0 && interval_sum > 0) {
      tokens_per_second_.set(intervals / interval_sum);
      tpot_.observe(interval_sum / intervals);
    }
    rate_->sample(engine_.stats().generated_tokens_total);
  };
  const int status = run_completion(req, prompt, meta, backend, resp, obs);
  if (status >= 500) common::log_warn("generation failed: ", status, " ", resp.body());
  return status;
}

void InferenceService::tokenize(const http::Request& http_req, http::Response& resp) {
  auto parsed = parse_tokenize_request(http_req.body);
  if (!parsed.ok()) {
    answer(resp, parsed.error());
    count("/tokenize", parsed.error().http_status());
    return;
  }
  const TokenizeRequest& req = parsed.value();
  std::vector<int32_t> ids = engine_.vocab().tokenize(req.content, req.add_special, req.parse_special);
  json::array tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) tokens.emplace_back(id);
  resp.set_json(200, json::serialize(json::object{{"tokens", std::move(tokens)}}));
  count("/tokenize", 200);
}

void InferenceService::detokenize(const http::Request& http_req, http::Response& resp) {
  auto parsed = parse_detokenize_request(http_req.body);
  if (!parsed.ok()) {
    answer(resp, parsed.error());
    count("/detokenize", parsed.error().http_status());
    return;
  }
  const std::vector<int32_t>& ids = parsed.value();
  const int32_t n = engine_.vocab().n_tokens();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= n) {
      ApiError err(Status::invalid_argument("token id " + std::to_string(ids[i]) +
                                            " is outside the vocabulary (0.." + std::to_string(n - 1) + ")"),
                   "tokens[" + std::to_string(i) + "]");
      answer(resp, err);
      count("/detokenize", err.http_status());
      return;
    }
  }
  std::string text = common::sanitize_utf8(engine_.vocab().detokenize(ids));
  resp.set_json(200, json::serialize(json::object{{"content", std::move(text)}}));
  count("/detokenize", 200);
}

}  // namespace scn::inference
