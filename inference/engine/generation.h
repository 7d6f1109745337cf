// One sequence's generation loop over a Context: prompt evaluation with KV
// cache reuse, sampling, per-token callbacks, for tests and tools that drive
// one sequence directly (the Engine batches sequences: engine/scheduler.h).
// check_request() is the request validation the Engine shares.
//
// Contract:
//  - check() validates a request without touching the context:
//    kInvalidArgument (empty prompt, token id outside [0, n_vocab),
//    max_tokens < 1, top_logprobs outside 0..20, sampling parameters out of
//    range), kTooLarge (prompt.size() + 1 > n_ctx: no room for one token).
//  - run() keeps the KV cache of the longest common prefix of the previous
//    request's tokens and this prompt (at least the prompt's last token is
//    always evaluated, to get its logits), evaluates the rest of the prompt,
//    then samples. An end-of-generation token (is_eog) ends with kStop and is
//    not passed to the callback (unless req.ignore_eos: then it is emitted
//    like any other token); max_tokens or a full context end with
//    kLength; the callback returning false, or req.cancel set, ends with
//    kCancelled. An exception thrown by the callback is a kInternal error.
//  - After an evaluation error the cache is cleared and the error returned.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "inference/engine/engine.h"
#include "inference/model/context.h"

namespace scn::inference {

// The checks of Generator::check() for a model of n_vocab tokens and a
// per-sequence context of n_ctx positions (the engine's admission checks).
Status check_request(const GenerateRequest& req, int32_t n_vocab, int32_t n_ctx);

class Generator {
 public:
  // is_eog(token): true for end-of-generation tokens (EOS, EOT, ...).
  Generator(Context& ctx, std::function<bool(int32_t)> is_eog);

  Status check(const GenerateRequest& req) const;
  Result<GenerateResult> run(const GenerateRequest& req, const TokenCallback& on_token);

  // Tokens whose K/V the context holds, in order (for tests and metrics).
  const std::vector<int32_t>& cached_tokens() const { return cached_; }
  // Prompt tokens reused from the cache by the last run().
  int last_reused_tokens() const { return last_reused_; }

 private:
  Context& ctx_;
  std::function<bool(int32_t)> is_eog_;
  std::vector<int32_t> cached_;  // == the tokens at positions [0, ctx_.n_past())
  std::vector<float> logits_;
  int last_reused_ = 0;
};

}  // namespace scn::inference
