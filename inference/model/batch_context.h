// A batched evaluation context: one forward pass over chunks of several
// sequences at once, whose K/V live in a shared paged KvPool. Runs on any
// backend (CPU or GPU): every buffer it computes with is backend memory.
//
// Contract:
//  - BatchContext::create() allocates, in backend memory, the scratch for
//    max_tokens rows (all chunks of one eval together, at most max_seqs
//    chunks) and the step descriptor buffers; eval() allocates nothing.
//    Limits: max_tokens <= 65535, max_seqs <= 1023 (they are packed into
//    graph keys).
//  - eval(chunks): every chunk is tokens[0..n) of one sequence at positions
//    pos0..pos0+n-1, with `blocks` its block table in the pool, covering at
//    least pos0 + n positions. Positions [0, pos0) must already hold that
//    sequence's K/V; the chunk's K/V are written into its blocks and each
//    token attends to positions [0, its own]. All rows of all chunks go
//    through every matmul together (matrix-matrix: one pass over the weights
//    per step); attention is the backend's paged_attention over the blocks.
//  - Step descriptor: eval() fills, on the host, the rows' tokens,
//    positions, chunks and KV slots and the chunks' first rows, lengths,
//    first positions and block tables (padded to max_blocks =
//    ceil(max_ctx / block_tokens) columns), uploads them with one upload()
//    into fixed backend buffers, and runs the forward pass (PagedBatch over
//    those buffers).
//  - Graphs: a decode-shaped step (every chunk has exactly 1 row) runs
//    through Backend::run_graph under a key that encodes everything that
//    changes an op's arguments: N rows, S chunks, m output rows, whether
//    arg-max runs, PagedBatch.max_len (the longest sequence rounded up to a
//    power of two, at least 256) and max_rows (rounded up likewise), plus
//    this context's serial number (so two contexts on one backend never
//    share a graph). Identical decode shapes give identical keys; the
//    contents of the descriptor buffers change from step to step, the
//    pointers never do. Prefill-shaped steps (a chunk of > 1 row) run
//    eagerly (record() called directly): their shapes vary too much for a
//    graph cache to pay off, and they are matrix-matrix work where launch
//    overhead does not dominate.
//  - Outputs (for the chunk's last token): logits (host [n_vocab], when not
//    null) receives the logits; argmax_out (host, when not null) receives
//    their arg-max (lowest id on ties, NaN counted as -inf: the engine's
//    greedy choice) computed by the backend, so that only the id travels.
//    All ids of a step come back in one download; logits rows are downloaded
//    only for the chunks that ask for them.
//    Errors (nothing is written): kInvalidArgument (no chunks, empty chunk,
//    token id outside [0, n_vocab), pos0 < 0, a block table too short or
//    with an id outside the pool), kTooLarge (more than max_tokens rows or
//    max_seqs chunks, or pos0 + n > max_ctx).
//  - The blocks written must not be shared with another sequence (the engine
//    shares only full blocks of a prefix, which are never written again).
//  - Used by one thread at a time; the Model and the pool (on the model's
//    backend) must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "inference/backend/backend.h"
#include "inference/model/kv_pool.h"
#include "inference/model/model.h"

namespace scn::inference {

struct SeqChunk {
  std::span<const int32_t> tokens;  // the new tokens
  int32_t pos0 = 0;                 // position of tokens[0]
  std::span<const int> blocks;      // the sequence's block table
  float* logits = nullptr;          // host [n_vocab] of the last token, or null
  int32_t* argmax_out = nullptr;    // host: arg-max of those logits (on the device), or null
};

class BatchContext {
 public:
  static constexpr int32_t kMaxTokens = 65535;
  static constexpr int32_t kMaxSeqs = 1023;
  static constexpr int32_t kMinLenBucket = 256;

  static Result<std::unique_ptr<BatchContext>> create(const Model& model, KvPool& pool,
                                                      int32_t max_tokens, int32_t max_ctx,
                                                      int32_t max_seqs);

  Status eval(std::span<const SeqChunk> chunks);

  int32_t max_tokens() const { return max_tokens_; }
  int32_t max_ctx() const { return max_ctx_; }
  int32_t max_seqs() const { return max_seqs_; }
  int32_t max_blocks() const { return max_blocks_; }
  int32_t n_vocab() const { return static_cast<int32_t>(model_.hparams().n_vocab); }
  const Model& model() const { return model_; }
  KvPool& pool() { return pool_; }
  // The graph key of the last eval() (0 when it ran eagerly).
  uint64_t last_graph_key() const { return last_key_; }

 private:
  BatchContext(const Model& model, KvPool& pool, int32_t max_tokens, int32_t max_ctx,
               int32_t max_seqs);
  bool allocated() const;
  // The forward pass (model/batch_graph.cpp); arguments already checked.
  void forward(std::span<const SeqChunk> chunks, int32_t n_rows);

  const Model& model_;
  KvPool& pool_;
  int32_t max_tokens_, max_ctx_, max_seqs_, max_blocks_;
  uint64_t serial_;
  uint64_t last_key_ = 0;
  // Backend scratch; N = max_tokens rows, S = max_seqs chunks.
  BackendBuffer x_;     // [N][E]  residual stream
  BackendBuffer xb_;    // [N][E]  normed input, then a projection's output
  BackendBuffer q_;     // [N][Q]  queries
  BackendBuffer k_;     // [N][KV] new keys (before they go into the blocks)
  BackendBuffer v_;     // [N][KV] new values
  BackendBuffer att_;   // [N][Q]  attention output
  BackendBuffer hb_;    // [N][F]  FFN gate, then swiglu
  BackendBuffer hb2_;   // [N][F]  FFN up
  BackendBuffer xo_;    // [S][E]  the rows of x whose logits are wanted
  BackendBuffer out_;   // [S][V]  their logits
  BackendBuffer ids_;   // [S]     their arg-max (int32)
  // The step descriptor (int32), sections at fixed offsets (see batch_graph.cpp).
  BackendBuffer desc_;
  std::vector<int32_t> desc_host_;  // its host staging copy
  std::vector<int32_t> ids_host_;   // [S]
};

}  // namespace scn::inference
