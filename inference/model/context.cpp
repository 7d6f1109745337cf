// Context: allocation, argument checks and chunking of eval() (the forward
// pass itself is in llama_graph.cpp).
#include "inference/model/context.h"

#include <algorithm>
#include <new>
#include <string>

namespace scn::inference {

namespace {
constexpr int32_t kMaxCtx = 1 << 20;
}  // namespace

Context::Context(const Model& model, int32_t n_ctx, int32_t n_batch)
    : model_(model),
      n_ctx_(n_ctx),
      n_batch_(n_batch),
      kv_(model.hparams().n_layer, n_ctx, model.hparams().kv_dim()) {
  const ModelHparams& hp = model.hparams();
  const auto rows = static_cast<size_t>(n_batch);
  x_.resize(rows * hp.n_embd);
  xb_.resize(rows * hp.n_embd);
  q_.resize(rows * hp.q_dim());
  att_.resize(rows * hp.q_dim());
  hb_.resize(rows * hp.n_ff);
  hb2_.resize(rows * hp.n_ff);
  pos_.resize(rows);
}

Result<std::unique_ptr<Context>> Context::create(const Model& model, int32_t n_ctx,
                                                 int32_t n_batch) {
  if (n_ctx <= 0)
    n_ctx = static_cast<int32_t>(std::min<int64_t>(model.hparams().n_ctx_train, kMaxDefaultCtx));
  if (n_ctx > kMaxCtx)
    return Status::invalid_argument("context size " + std::to_string(n_ctx) +
                                    " exceeds the maximum of " + std::to_string(kMaxCtx));
  if (n_batch <= 0) return Status::invalid_argument("n_batch must be positive");
  // Host-memory backends only: they use a host vector in place (backend.h).
  static const float probe = 0.f;
  auto in_place = model.backend().prepare_vector(&probe, 1);
  if (!in_place.is_ok() || *in_place != &probe)
    return Status::unprocessable("a single-sequence Context needs a host-memory backend (cpu); " +
                                 model.backend().describe() + " runs through BatchContext");
  n_batch = std::min(n_batch, n_ctx);
  const ModelHparams& hp = model.hparams();
  const double kv_bytes = 2.0 * hp.n_layer * n_ctx * hp.kv_dim() * sizeof(float);
  const double scratch_bytes =
      static_cast<double>(n_batch) * (2.0 * hp.n_embd + 2.0 * hp.q_dim() + 2.0 * hp.n_ff) * 4;
  const auto too_much = [&] {
    return Status::exhausted("cannot allocate a context of " + std::to_string(n_ctx) +
                             " positions (" + std::to_string(kv_bytes / (1 << 20)) +
                             " MiB of KV cache)");
  };
  if (kv_bytes + scratch_bytes > 1e15) return too_much();
  try {
    return std::unique_ptr<Context>(new Context(model, n_ctx, n_batch));
  } catch (const std::bad_alloc&) {
    return too_much();
  }
}

Status Context::eval(std::span<const int32_t> tokens, int32_t pos0, float* logits_out,
                     bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Status::invalid_argument("eval: no tokens");
  if (pos0 < 0 || pos0 > n_past_)
    return Status::invalid_argument("eval: position " + std::to_string(pos0) +
                                    " is outside [0, " + std::to_string(n_past_) + "]");
  if (pos0 + n > n_ctx_)
    return Status::too_large("eval: " + std::to_string(pos0 + n) +
                             " positions exceed the context size " + std::to_string(n_ctx_));
  const int32_t n_vocab = this->n_vocab();
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      return Status::invalid_argument("eval: token id " + std::to_string(tokens[i]) +
                                      " is outside [0, " + std::to_string(n_vocab) + ")");
  n_past_ = pos0;
  for (int64_t done = 0; done < n;) {
    const auto chunk = static_cast<int32_t>(std::min<int64_t>(n_batch_, n - done));
    const bool last = done + chunk == n;
    float* out = nullptr;
    if (logits_out && all_logits) out = logits_out + done * static_cast<int64_t>(n_vocab);
    if (logits_out && !all_logits && last) out = logits_out;
    forward(tokens.data() + done, chunk, pos0 + static_cast<int32_t>(done), out, all_logits);
    done += chunk;
    n_past_ = pos0 + static_cast<int32_t>(done);
  }
  return Status::ok();
}

void Context::truncate(int32_t n_past) { n_past_ = std::clamp(n_past, 0, n_past_); }

}  // namespace scn::inference
