#include "inference/server/completion_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace scn::inference {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kClientPollInterval{50};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// SSE events handed from the generation thread to the handler's thread.
class EventQueue {
 public:
  enum class Pop { kEvent, kTimeout, kClosed };

  void push(std::string event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(event));
    }
    cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_one();
  }
  // The next event; kClosed once closed and drained.
  Pop pop(std::string& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_ || !events_.empty(); });
    if (!events_.empty()) {
      out = std::move(events_.front());
      events_.pop_front();
      return Pop::kEvent;
    }
    return closed_ ? Pop::kClosed : Pop::kTimeout;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
  bool closed_ = false;
};

ApiError context_error(size_t prompt_tokens, int n_ctx, std::string_view param) {
  return ApiError(Status::invalid_argument(
                      "this model's maximum context length is " + std::to_string(n_ctx) +
                      " tokens, but the prompt has " + std::to_string(prompt_tokens) +
                      " tokens (at least one more is needed to generate); shorten the " +
                      std::string(param)),
                  std::string(param), "context_length_exceeded");
}

}  // namespace

ApiError engine_error(const Status& status, std::string_view prompt_param) {
  switch (status.code()) {
    case Code::kResourceExhausted:
      return ApiError(Status::exhausted("the server is busy (request queue full): " + status.message() +
                                        "; retry later"),
                      "", "queue_full");
    case Code::kTooLarge:
      return ApiError(Status::invalid_argument(status.message()), std::string(prompt_param),
                      "context_length_exceeded");
    case Code::kInvalidArgument:
    case Code::kCorruptData:
      return ApiError(Status::invalid_argument(status.message()), std::string(prompt_param));
    case Code::kCancelled: return ApiError(status);
    default: return ApiError(Status::internal("generation failed: " + status.message()));
  }
}

namespace {

// One choice of a request: its generation runs on its own thread.
struct ChoiceRun {
  ChoiceRun(const CompletionRequest& req, const PieceFn& piece)
      : builder(req.stop, piece, req.logprobs) {}
  ChoiceBuilder builder;
  GenerateRequest g;
  Result<GenerateResult> result = Status::internal("generation did not run");
  FinishReason finish = FinishReason::kStop;
  bool role_sent = false;  // chat streams: this choice's first chunk is out
  bool have_last = false;
  Clock::time_point last_token;
};

}  // namespace

int run_completion(const CompletionRequest& req, const std::vector<int32_t>& prompt,
                   const ResponseMeta& meta, const GenerationBackend& backend,
                   http::Response& resp, const RunObserver& observer) {
  const Clock::time_point t0 = Clock::now();
  const bool chat = req.kind == ApiKind::kChatCompletion;
  const std::string_view prompt_param = chat ? "messages" : "prompt";
  if (static_cast<int64_t>(prompt.size()) + 1 > backend.n_ctx) {
    ApiError err = context_error(prompt.size(), backend.n_ctx, prompt_param);
    resp.set_json(err.http_status(), err.to_json());
    return err.http_status();
  }
  int max_tokens = backend.n_ctx - static_cast<int>(prompt.size());
  if (req.max_tokens) max_tokens = std::min(max_tokens, *req.max_tokens);

  auto cancel = std::make_shared<std::atomic<bool>>(false);
  bool started = false;  // the stream's headers went out
  bool broken = false;   // the client is gone or a write failed
  auto send = [&](const std::string& event) {
    if (broken) return false;
    if (!started) {
      started = true;
      http::Headers h{{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
      if (!resp.start_stream(200, h)) broken = true;
    }
    if (!broken && !resp.write(event)) broken = true;
    if (broken) cancel->store(true);
    return !broken;
  };

  // All choices run at once (the engine batches them and shares the
  // prompt's KV blocks); their SSE events meet in one queue.
  EventQueue queue;
  std::mutex observe_mu;  // observer calls and any_token, from several threads
  bool any_token = false;
  std::atomic<int> running{req.n};
  std::vector<std::unique_ptr<ChoiceRun>> runs;
  for (int i = 0; i < req.n; ++i) {
    auto run = std::make_unique<ChoiceRun>(req, backend.piece);
    run->g.prompt = prompt;
    run->g.max_tokens = max_tokens;
    run->g.sampling = req.sampling;
    run->g.sampling.seed = choice_seed(req.sampling, i);
    run->g.logprobs = req.logprobs;
    run->g.top_logprobs = req.top_logprobs;
    run->g.ignore_eos = req.ignore_eos;
    run->g.cancel = cancel;
    runs.push_back(std::move(run));
  }

  auto work = [&](int i) {
    ChoiceRun& c = *runs[static_cast<size_t>(i)];
    // Runs on the engine's compute thread.
    auto on_token = [&](const TokenEvent& ev) {
      const Clock::time_point now = Clock::now();
      {
        std::lock_guard<std::mutex> lock(observe_mu);
        if (!any_token) {
          any_token = true;
          if (observer.first_token) observer.first_token(seconds_between(t0, now));
        } else if (c.have_last && observer.token_interval) {
          observer.token_interval(seconds_between(c.last_token, now));
        }
      }
      c.have_last = true;
      c.last_token = now;
      ChoiceDelta d = c.builder.on_token(ev);
      if (req.stream) {
        if (chat && !c.role_sent) {
          c.role_sent = true;
          queue.push(sse_event(chunk_body(meta, i, true, "", {}, std::nullopt)));
        }
        if (!d.empty()) queue.push(sse_event(chunk_body(meta, i, false, d.text, d.logprobs, std::nullopt)));
      }
      return !c.builder.stopped() && !cancel->load();
    };
    try {
      c.result = backend.generate(c.g, on_token);
    } catch (const std::exception& e) {
      c.result = Status::internal(e.what());
    }
    if (!c.result.is_ok()) {
      cancel->store(true);  // one choice failed: the request fails
    } else {
      ChoiceDelta tail = c.builder.finish();
      c.finish = c.builder.stopped() ? FinishReason::kStop : c.result->finish;
      if (c.finish == FinishReason::kCancelled) c.finish = FinishReason::kStop;
      if (req.stream && !cancel->load()) {
        if (chat && !c.role_sent) queue.push(sse_event(chunk_body(meta, i, true, "", {}, std::nullopt)));
        if (!tail.empty())
          queue.push(sse_event(chunk_body(meta, i, false, tail.text, tail.logprobs, std::nullopt)));
        queue.push(sse_event(chunk_body(meta, i, false, "", {}, c.finish)));
      }
    }
    if (running.fetch_sub(1) == 1) queue.close();
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < req.n; ++i) workers.emplace_back(work, i);

  std::string event;
  for (;;) {
    const EventQueue::Pop p = queue.pop(event, kClientPollInterval);
    if (p == EventQueue::Pop::kClosed) break;
    if (resp.client_gone()) {
      broken = true;
      cancel->store(true);
    }
    if (p == EventQueue::Pop::kEvent) send(event);
  }
  for (auto& w : workers) w.join();

  for (const auto& c : runs) {
    if (c->result.is_ok()) continue;
    ApiError err = engine_error(c->result.status(), prompt_param);
    if (!started) {
      if (resp.client_gone()) return 499;
      resp.set_json(err.http_status(), err.to_json());
      if (err.status.code() == Code::kResourceExhausted) resp.set_header("Retry-After", "1");
      return err.http_status();
    }
    send(sse_event(err.to_json()));
    resp.end();
    return broken ? 499 : 200;
  }
  if (broken || resp.client_gone()) {
    if (started) resp.end();
    return 499;
  }

  Usage usage;
  usage.prompt_tokens = static_cast<int>(prompt.size());
  std::vector<ChoiceResult> choices;
  for (size_t i = 0; i < runs.size(); ++i) {
    const GenerateResult& r = *runs[i]->result;
    if (i == 0 && r.prompt_tokens > 0) usage.prompt_tokens = r.prompt_tokens;
    // The prompt is counted once: its cached part is what every choice reused.
    usage.cached_tokens = i == 0 ? r.cached_prompt_tokens : std::min(usage.cached_tokens, r.cached_prompt_tokens);
    usage.completion_tokens += r.completion_tokens;
    if (!req.stream) choices.push_back({runs[i]->builder.text(), runs[i]->finish, runs[i]->builder.logprobs()});
  }

  if (req.stream) {
    if (req.include_usage) send(sse_event(usage_chunk_body(meta, usage)));
    send(std::string(kSseDone));
    resp.end();
    if (broken) return 499;
  } else {
    resp.set_json(200, completion_body(meta, choices, usage));
  }
  if (observer.finished) observer.finished(usage, seconds_between(t0, Clock::now()));
  return 200;
}

}  // namespace scn::inference
