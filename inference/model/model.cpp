// Loading a model: tensor presence, shapes and types checked against the
// hyperparameters, then every matrix prepared by the backend.
#include "inference/model/model.h"

#include <string>
#include <utility>

#include "inference/backend/cpu/quants.h"

namespace scn::inference {

namespace {

std::string shape_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

}  // namespace

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path,
                                           std::shared_ptr<Backend> backend) {
  SCN_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
  return load(std::shared_ptr<const GgufFile>(std::move(file)), std::move(backend));
}

Result<std::unique_ptr<Model>> Model::load(std::shared_ptr<const GgufFile> file,
                                           std::shared_ptr<Backend> backend) {
  if (!file || !backend) return Status::invalid_argument("Model::load: null file or backend");
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  m->backend_ = std::move(backend);
  SCN_ASSIGN_OR_RETURN(m->hp_, read_hparams(*m->file_));
  m->name_ = m->file_->get_string("general.name").value_or("");
  SCN_RETURN_IF_ERROR(m->load_tensors());
  return m;
}

namespace {

// Finds a tensor and checks its shape (ggml order: dims[0] is the row length).
Result<const GgufTensorInfo*> find_checked(const GgufFile& f, const std::string& name,
                                           const std::vector<int64_t>& want) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (!t) return Status::unprocessable("model lacks tensor '" + name + "'");
  if (t->dims != want)
    return Status::unprocessable("tensor '" + name + "' has shape " + shape_str(t->dims) +
                                 ", expected " + shape_str(want));
  return t;
}

}  // namespace

Status Model::load_tensors() {
  const GgufFile& f = *file_;
  const ModelHparams& hp = hp_;

  // A matrix [rows][cols] (GGUF dims {cols, rows}) prepared by the backend.
  auto matrix = [&](const std::string& name, int64_t rows,
                    int64_t cols) -> Result<std::unique_ptr<Weight>> {
    SCN_ASSIGN_OR_RETURN(const GgufTensorInfo* t, find_checked(f, name, {cols, rows}));
    auto w = backend_->prepare_weight(t->type, rows, cols, t->data);
    if (!w.is_ok()) return w.status().with_context("tensor '" + name + "'");
    return w;
  };
  // A vector of n floats: F32 in place, F16/BF16 converted once; then put in
  // backend memory (prepare_vector: the host pointer itself on the CPU).
  auto vec = [&](const std::string& name, int64_t n) -> Result<const float*> {
    SCN_ASSIGN_OR_RETURN(const GgufTensorInfo* t, find_checked(f, name, {n}));
    const float* host = nullptr;
    switch (t->type) {
      case GgmlType::F32:
        host = reinterpret_cast<const float*>(t->data);
        break;
      case GgmlType::F16:
      case GgmlType::BF16: {
        std::vector<float> out(static_cast<size_t>(n));
        const auto* h = reinterpret_cast<const uint16_t*>(t->data);
        for (int64_t i = 0; i < n; ++i)
          out[i] = t->type == GgmlType::F16 ? fp16_to_fp32(h[i]) : bf16_to_fp32(h[i]);
        converted_.push_back(std::move(out));
        host = converted_.back().data();
        break;
      }
      default:
        return Status::unprocessable("tensor '" + name + "' has type " +
                                     std::string(type_name(t->type)) +
                                     "; vectors must be f32, f16 or bf16");
    }
    auto v = backend_->prepare_vector(host, n);
    if (!v.is_ok()) return v.status().with_context("tensor '" + name + "'");
    return v;
  };

  const int64_t E = hp.n_embd, Q = hp.q_dim(), KV = hp.kv_dim(), F = hp.n_ff;
  SCN_ASSIGN_OR_RETURN(token_embd_, matrix("token_embd.weight", hp.n_vocab, E));
  SCN_ASSIGN_OR_RETURN(output_norm_, vec("output_norm.weight", E));
  if (!hp.tied_embeddings) {
    SCN_ASSIGN_OR_RETURN(output_, matrix("output.weight", hp.n_vocab, E));
  }

  if (f.find_tensor("rope_freqs.weight")) {
    SCN_ASSIGN_OR_RETURN(rope_freqs_, vec("rope_freqs.weight", hp.n_rot / 2));
  }

  layers_.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    LayerWeights& L = layers_[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    SCN_ASSIGN_OR_RETURN(L.attn_norm, vec(p + "attn_norm.weight", E));
    SCN_ASSIGN_OR_RETURN(L.wq, matrix(p + "attn_q.weight", Q, E));
    SCN_ASSIGN_OR_RETURN(L.wk, matrix(p + "attn_k.weight", KV, E));
    SCN_ASSIGN_OR_RETURN(L.wv, matrix(p + "attn_v.weight", KV, E));
    SCN_ASSIGN_OR_RETURN(L.wo, matrix(p + "attn_output.weight", E, Q));
    if (hp.has_qkv_bias) {
      SCN_ASSIGN_OR_RETURN(L.bq, vec(p + "attn_q.bias", Q));
      SCN_ASSIGN_OR_RETURN(L.bk, vec(p + "attn_k.bias", KV));
      SCN_ASSIGN_OR_RETURN(L.bv, vec(p + "attn_v.bias", KV));
    }
    SCN_ASSIGN_OR_RETURN(L.ffn_norm, vec(p + "ffn_norm.weight", E));
    SCN_ASSIGN_OR_RETURN(L.w_gate, matrix(p + "ffn_gate.weight", F, E));
    SCN_ASSIGN_OR_RETURN(L.w_up, matrix(p + "ffn_up.weight", F, E));
    SCN_ASSIGN_OR_RETURN(L.w_down, matrix(p + "ffn_down.weight", E, F));
  }
  return Status::ok();
}

size_t Model::weight_bytes() const {
  size_t total = output().bytes();
  for (const LayerWeights& L : layers_)
    for (const Weight* w : {L.wq.get(), L.wk.get(), L.wv.get(), L.wo.get(), L.w_gate.get(),
                            L.w_up.get(), L.w_down.get()})
      total += w->bytes();
  return total;
}

}  // namespace scn::inference
