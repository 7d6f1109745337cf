// The engine: one loaded model serving generation requests.
//
// Contract:
//  - Engine::load() opens a GGUF file, builds the vocab, chat template and the
//    model on the given backend; every failure is a Status naming the cause.
//  - generate() is thread-safe. Requests are queued (at most max_queue
//    waiting; beyond that kResourceExhausted) and run one after another on
//    the engine's compute thread (continuous batching comes with engine v2).
//  - The callback is called on the compute thread for every generated token,
//    in order. Returning false cancels the request (finish reason
//    kCancelled), as does Engine::cancel-by-flag (GenerateRequest::cancel).
//  - Generation stops at an end-of-generation token (not emitted as text),
//    at max_tokens, or when the context is full (finish reason kLength).
//    Stop *strings* are text-level and handled by the caller (server/), which
//    returns false from the callback once one matched.
//  - The KV cache of the longest common prefix of the previous request's
//    tokens and the next prompt is reused (engine/generation.h); sampling
//    follows engine/sampler.h (llama.cpp's chain; logprobs are the model's,
//    from the raw logits).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::inference {

class Vocab;
class ChatTemplate;
class Model;
class Backend;

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy
  int top_k = 0;                    // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off
  float repeat_penalty = 1.0f;      // llama.cpp style, over the last repeat_last_n tokens
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;   // OpenAI style, over the generated tokens
  float presence_penalty = 0.0f;
  std::optional<uint64_t> seed;     // same seed + same request -> same output
};

struct GenerateRequest {
  std::vector<int32_t> prompt;      // token ids, BOS included when wanted
  int max_tokens = 256;             // generated tokens at most
  SamplingParams sampling;
  int top_logprobs = 0;             // alternatives per token to report (0..20)
  bool logprobs = false;            // report the chosen token's logprob
  std::shared_ptr<std::atomic<bool>> cancel;  // set to true to cancel (may be null)
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.f;
};

struct TokenEvent {
  int32_t token = 0;
  float logprob = 0.f;                   // when requested
  std::vector<TokenLogprob> top;         // top_logprobs alternatives, best first
};

enum class FinishReason { kStop, kLength, kCancelled };

struct GenerateResult {
  FinishReason finish = FinishReason::kStop;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double prompt_seconds = 0;   // time to process the prompt
  double decode_seconds = 0;   // time of the generation steps
};

using TokenCallback = std::function<bool(const TokenEvent&)>;

struct EngineOptions {
  int n_threads = 0;        // 0: all cores
  int n_ctx = 0;            // 0: the model's context length (capped at 8192)
  int max_queue = 64;       // waiting requests before kResourceExhausted
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const std::string& gguf_path,
                                              const EngineOptions& options);
  ~Engine();

  const Vocab& vocab() const;
  const ChatTemplate& chat_template() const;
  const std::string& model_name() const;  // general.name or the file stem
  int n_ctx() const;

  // Runs one request to completion (blocking the calling thread while it is
  // queued and runs). Errors: kInvalidArgument (empty prompt, token id out of
  // range), kTooLarge (prompt does not fit the context), kResourceExhausted
  // (queue full).
  Result<GenerateResult> generate(const GenerateRequest& req, const TokenCallback& on_token);

  // Requests waiting + running (for /metrics and 429 decisions).
  int queue_depth() const;

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::inference
