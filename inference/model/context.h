// An evaluation context: one sequence's KV cache plus the scratch buffers of
// the forward pass, over a loaded Model.
//
// Contract:
//  - Context::create() allocates everything once (KV cache for n_ctx
//    positions, activations for up to n_batch tokens); eval() allocates
//    nothing.
//  - eval(tokens, pos0, logits_out, all_logits) runs the forward pass for
//    tokens at positions pos0, pos0+1, ...: their K/V are written into the
//    cache and attention sees positions [0, pos0 + i]. pos0 must be <=
//    n_past() (positions after pos0 are discarded first); afterwards n_past()
//    == pos0 + tokens.size(). Prompts longer than n_batch are processed in
//    chunks of n_batch tokens (matrix-matrix path); one token takes the
//    matrix-vector path.
//    logits_out: [n_vocab] for the last token, or [n_tokens][n_vocab] when
//    all_logits; nullptr computes no logits (prompt prefill).
//    Errors (nothing is changed): kInvalidArgument (empty tokens, token id
//    outside [0, n_vocab), pos0 < 0 or pos0 > n_past()), kTooLarge
//    (pos0 + n_tokens > n_ctx()).
//  - truncate(n) forgets positions >= n (n clamped to [0, n_past()]).
//  - A Context computes in host memory (its KV cache and scratch are host
//    vectors), so it runs on host-memory backends only (CPU, reference):
//    create() fails with kUnprocessable on a GPU backend, where the batched
//    forward pass (model/batch_context.h) is the way to run a model.
//  - A Context is used by one thread at a time; the Model must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "common/aligned_allocator.h"
#include "common/status.h"
#include "inference/model/kv_cache.h"
#include "inference/model/model.h"

namespace scn::inference {

class Context {
 public:
  // n_ctx <= 0: the model's context length (hparams().n_ctx_train), capped at
  // kMaxDefaultCtx. n_batch: tokens per forward chunk (>= 1). Errors:
  // kInvalidArgument (n_batch < 1, n_ctx over 2^20), kResourceExhausted (the
  // memory cannot be allocated).
  static constexpr int32_t kMaxDefaultCtx = 8192;
  static Result<std::unique_ptr<Context>> create(const Model& model, int32_t n_ctx,
                                                 int32_t n_batch = 512);

  Status eval(std::span<const int32_t> tokens, int32_t pos0, float* logits_out,
              bool all_logits);
  void truncate(int32_t n_past);

  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_batch() const { return n_batch_; }
  int32_t n_past() const { return n_past_; }
  int32_t n_vocab() const { return static_cast<int32_t>(model_.hparams().n_vocab); }
  const Model& model() const { return model_; }
  // Bytes held by the KV cache.
  size_t kv_bytes() const { return kv_.bytes(); }

 private:
  Context(const Model& model, int32_t n_ctx, int32_t n_batch);
  // One chunk of at most n_batch tokens (model/llama_graph.cpp).
  void forward(const int32_t* tokens, int32_t n, int32_t pos0, float* logits_out,
               bool all_logits);

  const Model& model_;
  int32_t n_ctx_, n_batch_;
  int32_t n_past_ = 0;
  KvCache kv_;
  // Scratch, sized for n_batch tokens, on 64-byte boundaries (whole cache
  // lines per row for the matmul kernels' tile and streaming stores).
  using Floats = std::vector<float, common::AlignedAllocator<float, 64>>;
  Floats x_;       // [n_batch][n_embd]  residual stream
  Floats xb_;      // [n_batch][n_embd]  normed input, then a projection's output
  Floats q_;       // [n_batch][q_dim]
  Floats att_;     // [n_batch][q_dim]   attention output
  Floats hb_;      // [n_batch][n_ff]    gate, then swiglu
  Floats hb2_;     // [n_batch][n_ff]    up
  std::vector<int32_t> pos_;   // [n_batch]
};

}  // namespace scn::inference
