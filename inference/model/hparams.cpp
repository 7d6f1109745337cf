// Hyperparameters of the supported architectures from GGUF metadata
// (keys as llama.cpp writes them: "<arch>.embedding_length", ...).
#include <cmath>
#include <cstdio>
#include <string>

#include "inference/model/model.h"

namespace scn::inference {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 20;  // sanity bound for every size

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

class Reader {
 public:
  Reader(const GgufFile& f, std::string arch) : f_(f), arch_(std::move(arch)) {}

  std::string key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }

  // A positive integer key; `def` when absent (nullopt: the key is required).
  Result<int64_t> size(std::string_view suffix, std::optional<int64_t> def = std::nullopt) const {
    const std::string k = key(suffix);
    const GgufValue* v = f_.find(k);
    if (!v) {
      if (def) return *def;
      return Status::unprocessable("model metadata lacks required key '" + k + "'");
    }
    if (v->as_array())
      return Status::unprocessable("metadata key '" + k +
                                   "' is a per-layer array, which scn does not support");
    const auto x = v->as_i64();
    if (!x || *x <= 0 || *x > kMaxDim)
      return Status::unprocessable("metadata key '" + k + "' must be an integer in [1, " +
                                   std::to_string(kMaxDim) + "]");
    return *x;
  }

  // A finite float key within (lo, hi] ([lo, hi] when lo_ok); `def` when absent.
  Result<float> real(std::string_view suffix, float def, double lo, double hi,
                     bool lo_ok = false) const {
    const std::string k = key(suffix);
    const GgufValue* v = f_.find(k);
    if (!v) return def;
    const auto x = v->as_f64();
    if (!x || !std::isfinite(*x) || *x < lo || (*x == lo && !lo_ok) || *x > hi)
      return Status::unprocessable("metadata key '" + k + "' must be a number in " +
                                   (lo_ok ? "[" : "(") + fmt(lo) + ", " + fmt(hi) + "]");
    return static_cast<float>(*x);
  }

 private:
  const GgufFile& f_;
  std::string arch_;
};

}  // namespace

Result<ModelHparams> read_hparams(const GgufFile& file) {
  ModelHparams hp;
  const auto arch = file.get_string("general.architecture");
  if (!arch) return Status::unprocessable("model metadata lacks 'general.architecture'");
  hp.arch_name = *arch;
  if (*arch == "llama") {
    hp.arch = Arch::kLlama;
  } else if (*arch == "qwen2") {
    hp.arch = Arch::kQwen2;
    hp.rope_neox = true;
    hp.has_qkv_bias = true;
  } else {
    return Status::unprocessable("unsupported model architecture '" + *arch +
                                 "' (supported: llama, qwen2)");
  }
  const Reader r(file, *arch);
  SCN_ASSIGN_OR_RETURN(hp.n_embd, r.size("embedding_length"));
  SCN_ASSIGN_OR_RETURN(hp.n_layer, r.size("block_count"));
  SCN_ASSIGN_OR_RETURN(hp.n_head, r.size("attention.head_count"));
  SCN_ASSIGN_OR_RETURN(hp.n_head_kv, r.size("attention.head_count_kv", hp.n_head));
  SCN_ASSIGN_OR_RETURN(hp.n_ff, r.size("feed_forward_length"));
  SCN_ASSIGN_OR_RETURN(hp.n_ctx_train, r.size("context_length", 2048));
  if (hp.n_head_kv > hp.n_head || hp.n_head % hp.n_head_kv != 0)
    return Status::unprocessable("attention.head_count (" + std::to_string(hp.n_head) +
                                 ") is not a multiple of attention.head_count_kv (" +
                                 std::to_string(hp.n_head_kv) + ")");
  if (file.find(r.key("attention.key_length"))) {
    SCN_ASSIGN_OR_RETURN(hp.head_dim, r.size("attention.key_length"));
    SCN_ASSIGN_OR_RETURN(const int64_t vlen, r.size("attention.value_length", hp.head_dim));
    if (vlen != hp.head_dim)
      return Status::unprocessable("attention.value_length (" + std::to_string(vlen) +
                                   ") differs from attention.key_length (" +
                                   std::to_string(hp.head_dim) + "), which scn does not support");
  } else {
    if (hp.n_embd % hp.n_head != 0)
      return Status::unprocessable("embedding_length (" + std::to_string(hp.n_embd) +
                                   ") is not a multiple of attention.head_count (" +
                                   std::to_string(hp.n_head) + ")");
    hp.head_dim = hp.n_embd / hp.n_head;
  }
  SCN_ASSIGN_OR_RETURN(hp.n_rot, r.size("rope.dimension_count", hp.head_dim));
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
    return Status::unprocessable("rope.dimension_count (" + std::to_string(hp.n_rot) +
                                 ") must be even and at most the head size (" +
                                 std::to_string(hp.head_dim) + ")");
  const float default_eps = hp.arch == Arch::kQwen2 ? 1e-6f : 1e-5f;
  SCN_ASSIGN_OR_RETURN(hp.rms_eps, r.real("attention.layer_norm_rms_epsilon", default_eps, 0, 1));
  SCN_ASSIGN_OR_RETURN(hp.rope_freq_base, r.real("rope.freq_base", 10000.f, 0, 1e12));

  // RoPE scaling: none, or linear (positions divided by the factor). As in
  // llama.cpp a missing type means linear and a factor of 0 means 1.
  const std::string type = file.get_string(r.key("rope.scaling.type")).value_or("linear");
  float factor = 1.f;
  if (type == "linear") {
    const bool has_factor = file.find(r.key("rope.scaling.factor")) != nullptr;
    SCN_ASSIGN_OR_RETURN(factor, r.real(has_factor ? "rope.scaling.factor" : "rope.scale_linear",
                                        1.f, 0, 1e6, /*lo_ok=*/true));
    if (factor == 0.f) factor = 1.f;
  } else if (type != "none") {
    return Status::unprocessable("rope scaling type '" + type +
                                 "' is not supported (supported: none, linear)");
  }
  hp.rope_freq_scale = 1.f / factor;

  const GgufTensorInfo* embd = file.find_tensor("token_embd.weight");
  if (!embd) return Status::unprocessable("model lacks tensor 'token_embd.weight'");
  if (embd->dims.size() != 2 || embd->ne(0) != hp.n_embd || embd->ne(1) <= 0)
    return Status::unprocessable("tensor 'token_embd.weight' must have shape [" +
                                 std::to_string(hp.n_embd) + ", n_vocab]");
  hp.n_vocab = embd->ne(1);
  hp.tied_embeddings = file.find_tensor("output.weight") == nullptr;
  return hp;
}

}  // namespace scn::inference
