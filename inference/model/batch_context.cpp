// BatchContext: allocation and argument checks of eval() (the forward pass
// itself is in batch_graph.cpp).
#include "inference/model/batch_context.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <string>

namespace scn::inference {

namespace {
std::atomic<uint64_t> next_serial{1};
}  // namespace

BatchContext::BatchContext(const Model& model, KvPool& pool, int32_t max_tokens,
                           int32_t max_ctx, int32_t max_seqs)
    : model_(model), pool_(pool), max_tokens_(max_tokens), max_ctx_(max_ctx),
      max_seqs_(max_seqs),
      max_blocks_((max_ctx + pool.block_tokens() - 1) / pool.block_tokens()),
      serial_(next_serial.fetch_add(1)) {
  const ModelHparams& hp = model.hparams();
  Backend* be = &model.backend();
  const auto rows = static_cast<size_t>(max_tokens);
  const auto seqs = static_cast<size_t>(max_seqs);
  auto floats = [&](size_t n) { return BackendBuffer(be, n * sizeof(float)); };
  x_ = floats(rows * hp.n_embd);
  xb_ = floats(rows * hp.n_embd);
  q_ = floats(rows * hp.q_dim());
  k_ = floats(rows * hp.kv_dim());
  v_ = floats(rows * hp.kv_dim());
  att_ = floats(rows * hp.q_dim());
  hb_ = floats(rows * hp.n_ff);
  hb2_ = floats(rows * hp.n_ff);
  xo_ = floats(seqs * hp.n_embd);
  out_ = floats(seqs * hp.n_vocab);
  ids_ = BackendBuffer(be, seqs * sizeof(int32_t));
  // tok, row_pos, row_seq, row_slot [N]; seq_row0, seq_n_rows, seq_pos0,
  // out_rows [S]; seq_blocks [S][max_blocks].
  const size_t desc = 4 * rows + 4 * seqs + seqs * static_cast<size_t>(max_blocks_);
  desc_ = BackendBuffer(be, desc * sizeof(int32_t));
  desc_host_.assign(desc, 0);
  ids_host_.assign(seqs, 0);
}

bool BatchContext::allocated() const {
  for (const BackendBuffer* b : {&x_, &xb_, &q_, &k_, &v_, &att_, &hb_, &hb2_, &xo_, &out_, &ids_,
                                 &desc_})
    if (!b->ok()) return false;
  return true;
}

Result<std::unique_ptr<BatchContext>> BatchContext::create(const Model& model, KvPool& pool,
                                                           int32_t max_tokens, int32_t max_ctx,
                                                           int32_t max_seqs) {
  if (max_tokens < 1 || max_ctx < 1 || max_seqs < 1)
    return Status::invalid_argument("a batch context needs max_tokens, max_ctx and max_seqs >= 1");
  if (max_tokens > kMaxTokens || max_seqs > kMaxSeqs)
    return Status::invalid_argument("a batch context holds at most " +
                                    std::to_string(kMaxTokens) + " tokens and " +
                                    std::to_string(kMaxSeqs) + " sequences");
  if (pool.n_layer() != model.hparams().n_layer || pool.kv_dim() != model.hparams().kv_dim())
    return Status::invalid_argument("the KV pool does not fit the model's layers / kv_dim");
  if (&pool.backend() != &model.backend())
    return Status::invalid_argument("the KV pool is not on the model's backend");
  const auto exhausted = [&] {
    return Status::exhausted("cannot allocate a batch context of " + std::to_string(max_tokens) +
                             " tokens on " + model.backend().describe());
  };
  try {
    std::unique_ptr<BatchContext> ctx(new BatchContext(model, pool, max_tokens, max_ctx, max_seqs));
    if (!ctx->allocated()) return exhausted();
    return ctx;
  } catch (const std::bad_alloc&) {
    return exhausted();
  }
}

Status BatchContext::eval(std::span<const SeqChunk> chunks) {
  if (chunks.empty()) return Status::invalid_argument("eval: no chunks");
  if (static_cast<int64_t>(chunks.size()) > max_seqs_)
    return Status::too_large("eval: " + std::to_string(chunks.size()) +
                             " sequences exceed the batch's " + std::to_string(max_seqs_));
  const int32_t n_vocab = this->n_vocab();
  const int bt = pool_.block_tokens();
  int64_t rows = 0;
  for (const SeqChunk& c : chunks) {
    const auto n = static_cast<int64_t>(c.tokens.size());
    if (n == 0) return Status::invalid_argument("eval: an empty chunk");
    if (c.pos0 < 0) return Status::invalid_argument("eval: negative position");
    if (c.pos0 + n > max_ctx_)
      return Status::too_large("eval: " + std::to_string(c.pos0 + n) +
                               " positions exceed the context size " + std::to_string(max_ctx_));
    if (static_cast<int64_t>(c.blocks.size()) * bt < c.pos0 + n)
      return Status::invalid_argument("eval: the block table covers fewer positions than " +
                                      std::to_string(c.pos0 + n));
    for (int b : c.blocks)
      if (b < 0 || b >= pool_.n_blocks())
        return Status::invalid_argument("eval: block id " + std::to_string(b) +
                                        " is outside the pool");
    for (int32_t t : c.tokens)
      if (t < 0 || t >= n_vocab)
        return Status::invalid_argument("eval: token id " + std::to_string(t) +
                                        " is outside [0, " + std::to_string(n_vocab) + ")");
    rows += n;
  }
  if (rows > max_tokens_)
    return Status::too_large("eval: " + std::to_string(rows) + " tokens exceed the batch's " +
                             std::to_string(max_tokens_));
  forward(chunks, static_cast<int32_t>(rows));
  return Status::ok();
}

}  // namespace scn::inference
