// Token sampling for one request, over the logits of one position.
//
// Contract:
//  - A Sampler is created per request with its SamplingParams and the vocab
//    size; it is not thread-safe (the engine's compute thread owns it).
//  - The chain follows llama.cpp's default order: penalties -> top-k ->
//    top-p -> min-p -> temperature -> draw. temperature <= 0 is greedy: the
//    arg-max after penalties (lowest id on ties), no randomness.
//  - Repetition penalty (llama.cpp): every distinct token among the last
//    repeat_last_n context tokens (prompt included; -1: all, 0: off) has its
//    logit divided by repeat_penalty when positive, multiplied when not.
//  - Frequency / presence penalties (OpenAI): logit[j] -= count[j] *
//    frequency_penalty + (count[j] > 0) * presence_penalty, where count[j]
//    counts token j among the tokens generated so far (accept()).
//  - The seed makes the draw deterministic: the same seed, prompt and logits
//    give the same tokens on every run of the same build. Without a seed a
//    random one is taken (seed() reports it).
//  - Logprobs (compute_logprobs) are model log-probabilities: the
//    log-softmax of the RAW logits, before penalties and temperature, as
//    OpenAI and the golden references report them.
//  - Cost per token is O(n_vocab) plus O(k log k) for the kept candidates:
//    no full sort of the vocabulary.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "inference/engine/engine.h"

namespace scn::inference {

// kInvalidArgument naming the first parameter out of range (temperature < 0,
// top_k < 0, top_p outside (0, 1], min_p outside [0, 1], repeat_penalty <= 0,
// repeat_last_n < -1, frequency/presence penalties outside [-2, 2], non-finite values).
Status validate_sampling(const SamplingParams& p);

// True when sampling with `p` is the plain arg-max of the raw logits
// (temperature <= 0 and no repetition / frequency / presence penalty), so
// the choice can be made by the backend (BatchContext's argmax_out) with the
// same result as Sampler::sample().
bool plain_greedy(const SamplingParams& p);

// One candidate of the filtered distribution: token id, its (penalised,
// tempered) logit and its probability among the kept candidates.
struct SamplerCandidate {
  int32_t id = 0;
  float logit = 0.f;
  float p = 0.f;
};

class Sampler {
 public:
  // n_vocab > 0; params should have passed validate_sampling().
  Sampler(const SamplingParams& params, int32_t n_vocab);

  uint64_t seed() const { return seed_; }
  int32_t n_vocab() const { return n_vocab_; }

  // Records tokens already in the context (the prompt): they count for the
  // repetition penalty window but not for frequency/presence penalties.
  void add_context(std::span<const int32_t> tokens);
  // Records a generated token (counts for every penalty).
  void accept(int32_t token);

  // Picks the next token from logits[n_vocab] (not modified). Does not
  // accept() it.
  int32_t sample(const float* logits);

  // The candidates that sample() would draw from, in no particular order,
  // with their probabilities (sum 1). Greedy gives the single arg-max.
  // Valid until the next call on this Sampler.
  std::span<const SamplerCandidate> candidates(const float* logits);

  // Applies the repetition / frequency / presence penalties in place to
  // logits[n_vocab].
  void apply_penalties(float* logits) const;

 private:
  void filter(const float* logits);
  void apply_top_p();
  void normalise();
  double uniform();  // [0, 1)

  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<int32_t> context_;                // prompt + generated, in order
  std::unordered_map<int32_t, int> generated_;  // token -> times generated
  std::vector<float> work_;                     // penalised logits
  std::vector<SamplerCandidate> cands_;
  std::vector<double> mass_;                    // top-p histogram
};

// The model log-probability of `token` and the top_n most likely tokens
// (best first, ties by lower id) from the log-softmax of raw logits[n_vocab].
struct Logprobs {
  float chosen = 0.f;
  std::vector<TokenLogprob> top;
};
Logprobs compute_logprobs(std::span<const float> logits, int32_t token, int top_n);

}  // namespace scn::inference
