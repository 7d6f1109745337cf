// A batched evaluation context: one forward pass over chunks of several
// sequences at once, whose K/V live in a shared paged KvPool.
//
// Contract:
//  - BatchContext::create() allocates the scratch for max_tokens rows (all
//    chunks of one eval together, at most max_seqs chunks) and for attention
//    over max_ctx positions; eval() allocates nothing.
//  - eval(chunks): every chunk is tokens[0..n) of one sequence at positions
//    pos0..pos0+n-1, with `blocks` its block table in the pool, covering at
//    least pos0 + n positions. Positions [0, pos0) must already hold that
//    sequence's K/V; the chunk's K/V are written into its blocks and each
//    token attends to positions [0, its own]. All rows of all chunks go
//    through every matmul together (matrix-matrix: one pass over the weights
//    per step); attention runs per sequence: its K/V rows are gathered from
//    the blocks into contiguous scratch [pos0 + n][kv_dim] and handed to the
//    backend's attention op.
//    logits (when not null) receives [n_vocab] for the chunk's last token.
//    Errors (nothing is written): kInvalidArgument (no chunks, empty chunk,
//    token id outside [0, n_vocab), pos0 < 0, a block table too short or
//    with an id outside the pool), kTooLarge (more than max_tokens rows or
//    max_seqs chunks, or pos0 + n > max_ctx).
//  - The blocks written must not be shared with another sequence (the engine
//    shares only full blocks of a prefix, which are never written again).
//  - Used by one thread at a time; the Model and the pool must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "inference/model/kv_pool.h"
#include "inference/model/model.h"

namespace scn::inference {

struct SeqChunk {
  std::span<const int32_t> tokens;  // the new tokens
  int32_t pos0 = 0;                 // position of tokens[0]
  std::span<const int> blocks;      // the sequence's block table
  float* logits = nullptr;          // [n_vocab] of the last token, or null
};

class BatchContext {
 public:
  static Result<std::unique_ptr<BatchContext>> create(const Model& model, KvPool& pool,
                                                      int32_t max_tokens, int32_t max_ctx,
                                                      int32_t max_seqs);

  Status eval(std::span<const SeqChunk> chunks);

  int32_t max_tokens() const { return max_tokens_; }
  int32_t max_ctx() const { return max_ctx_; }
  int32_t n_vocab() const { return static_cast<int32_t>(model_.hparams().n_vocab); }
  const Model& model() const { return model_; }
  KvPool& pool() { return pool_; }

 private:
  BatchContext(const Model& model, KvPool& pool, int32_t max_tokens, int32_t max_ctx,
               int32_t max_seqs);
  // The forward pass (model/batch_graph.cpp); arguments already checked.
  void forward(std::span<const SeqChunk> chunks, int32_t n_rows);

  const Model& model_;
  KvPool& pool_;
  int32_t max_tokens_, max_ctx_, max_seqs_;
  // Scratch; N = max_tokens rows, C = max_ctx positions.
  std::vector<int32_t> tok_;   // [N]     token ids of all rows, chunk after chunk
  std::vector<int32_t> pos_;   // [N]     their absolute positions
  std::vector<float> x_;       // [N][E]  residual stream
  std::vector<float> xb_;      // [N][E]  normed input, then a projection's output
  std::vector<float> q_;       // [N][Q]  queries
  std::vector<float> k_;       // [N][KV] new keys (before they go into the blocks)
  std::vector<float> v_;       // [N][KV] new values
  std::vector<float> att_;     // [N][Q]  attention output
  std::vector<float> hb_;      // [N][F]  FFN gate, then swiglu
  std::vector<float> hb2_;     // [N][F]  FFN up
  std::vector<float> kg_;      // [C][KV] one sequence's keys gathered from its blocks
  std::vector<float> vg_;      // [C][KV] its values
  std::vector<float> xo_;      // [S][E]  the rows of x whose logits are wanted
  std::vector<float> out_;     // [S][V]  logits of the rows that need them (S = max_seqs)
};

}  // namespace scn::inference
