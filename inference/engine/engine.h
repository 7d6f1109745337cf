// The engine: one loaded model serving generation requests.
//
// Contract:
//  - Engine::load() opens a GGUF file, builds the vocab, chat template and the
//    model on the backend of options.device (kUnavailable naming the reason
//    when that device cannot be used), and allocates the paged KV pool
//    (kv_memory_bytes, else ctx_total positions) and the batch scratch; every
//    failure is a Status naming the cause. n_ctx() (per sequence) is capped so
//    that one sequence always fits the pool.
//  - generate() is thread-safe and blocks its caller until the request ends.
//    Requests wait in a bounded queue (at most max_queue waiting; beyond that
//    kResourceExhausted) and are admitted in order into the running batch (at
//    most max_running sequences) as KV memory allows; a request whose prompt
//    continues a prefix another prompt is computing right now waits for those
//    blocks (the requests behind it may go first) and then reuses them. An
//    idle engine gathers a burst of arrivals before its first step: it starts
//    once no request has arrived for 4 ms (at most 40 ms after it woke), so
//    that requests sent together share that step. The compute thread runs
//    continuous batching (engine/scheduler.h): every step is one forward pass
//    over the next token of every decoding sequence plus prefill chunks of
//    newly admitted prompts (shortest remaining first), at most
//    max_batch_tokens rows; a request joins at
//    the next step and leaves as soon as it ends, freeing its KV blocks.
//  - Prefix reuse (prefix_cache): prompt blocks whose token prefix is cached
//    are reused instead of recomputed (GenerateResult::cached_prompt_tokens).
//    When KV memory runs out, the most recently admitted sequence is
//    preempted and recomputed later; its output does not change.
//  - The callback is called on the compute thread for every generated token,
//    in order. Returning false cancels the request (finish reason
//    kCancelled), as does setting GenerateRequest::cancel; the request's
//    blocks are freed at the next step at the latest.
//  - Generation stops at an end-of-generation token (not emitted as text),
//    at max_tokens, or when the context is full (finish reason kLength).
//    With GenerateRequest::ignore_eos, end-of-generation tokens are emitted
//    like any other token and only max_tokens / the context end it.
//    Stop *strings* are text-level and handled by the caller (server/), which
//    returns false from the callback once one matched.
//  - With temperature 0 a request's tokens do not depend on what else runs
//    (batching, chunking, prefix reuse, preemption). Sampling follows
//    engine/sampler.h (llama.cpp's chain; logprobs are the model's, from the
//    raw logits).
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
  bool ignore_eos = false;          // end-of-generation tokens do not stop generation:
                                    // they are sampled and emitted like any other token
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
  int cached_prompt_tokens = 0;   // prompt tokens whose K/V were reused (prefix cache)
  double queue_seconds = 0;       // from generate() until the request was admitted
  double first_token_seconds = 0; // from generate() until the first token was sampled
};

using TokenCallback = std::function<bool(const TokenEvent&)>;

struct EngineOptions {
  // The compute device (make_backend, backend/backend.h): "cpu", "cuda",
  // "cuda:N" or "auto" (the first usable GPU, else the CPU). Weights, the KV
  // pool and the batch scratch live in that device's memory.
  std::string device = "cpu";
  int n_threads = 0;        // CPU threads; 0: all cores
  int n_ctx = 0;            // 0: the model's context length (capped at 8192)
  int max_queue = 64;       // waiting requests before kResourceExhausted
  int max_batch_tokens = 512;   // tokens (decode + prefill chunks) per forward step
  int max_running = 32;         // sequences in one batch at most
  int64_t kv_memory_bytes = 0;  // KV pool size; 0: derived from ctx_total
  int ctx_total = 0;            // KV positions of all sequences together;
                                // 0: n_ctx * max(1, min(max_running, 8))
  int block_tokens = 16;        // positions per KV block
  bool prefix_cache = true;     // reuse the K/V blocks of common prompt prefixes
};

// A snapshot of the engine's load and totals since load (for /metrics,
// /health and the scheduler). Engine::stats() is thread-safe.
struct EngineStats {
  int queued = 0;                 // requests waiting for admission (incl. preempted ones)
  int running = 0;                // sequences admitted (in the batch)
  int kv_blocks_total = 0;        // blocks in the KV pool
  int kv_blocks_used = 0;         // blocks held by running sequences
  int64_t prompt_tokens_total = 0;
  int64_t cached_prompt_tokens_total = 0;   // prompt tokens served from the prefix cache
  int64_t generated_tokens_total = 0;
  int64_t prefill_tokens_total = 0;  // prompt positions evaluated (incl. recomputed ones)
  int64_t preemptions_total = 0;  // sequences whose blocks were freed to be recomputed
  int64_t requests_total = 0;     // requests admitted (finished or not)
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
  // The compute backend's description ("cpu: 8 threads, avx512", "cuda:0 ...").
  std::string device_description() const;

  // Runs one request to completion (blocking the calling thread while it is
  // queued and runs). Errors: kInvalidArgument (empty prompt, token id out of
  // range), kTooLarge (prompt does not fit the context), kResourceExhausted
  // (queue full).
  Result<GenerateResult> generate(const GenerateRequest& req, const TokenCallback& on_token);

  // Requests waiting + running (for /metrics and 429 decisions).
  int queue_depth() const;
  EngineStats stats() const;

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::inference
