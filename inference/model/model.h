// A loaded transformer model: hyperparameters read from GGUF metadata and
// weights prepared by a Backend. Architectures: llama (Llama 2/3, TinyLlama,
// DeepSeek-R1-Distill-Llama; RoPE on adjacent pairs) and qwen2 (Qwen2/2.5,
// DeepSeek-R1-Distill-Qwen; q/k/v biases, NEOX RoPE on halves).
//
// Contract:
//  - Model::load() validates everything before it returns: the architecture
//    (kUnprocessable naming an unsupported one), every hyperparameter
//    (kUnprocessable naming a missing/invalid key), every tensor's presence,
//    shape and type (kUnprocessable naming the tensor and the expected shape).
//    A loaded model never crashes on a forward pass.
//  - The Model keeps the GgufFile (the mmap the weights may point into) and
//    the Backend alive for its whole lifetime.
//  - A Model is immutable after load and may be shared by several Contexts,
//    but the Backend's ops are not re-entrant: evaluate one Context at a time
//    per Backend (the engine's single compute thread does).
//  - Without output.weight the embedding matrix token_embd.weight is used for
//    the output projection (tied embeddings).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "inference/backend/backend.h"
#include "inference/gguf/gguf.h"

namespace scn::inference {

enum class Arch { kLlama, kQwen2 };

struct ModelHparams {
  Arch arch = Arch::kLlama;
  std::string arch_name;       // general.architecture as written ("llama", "qwen2")
  int64_t n_vocab = 0;         // rows of token_embd.weight
  int64_t n_embd = 0;          // <arch>.embedding_length
  int64_t n_layer = 0;         // <arch>.block_count
  int64_t n_head = 0;          // <arch>.attention.head_count
  int64_t n_head_kv = 0;       // <arch>.attention.head_count_kv (default n_head)
  int64_t head_dim = 0;        // n_embd / n_head
  int64_t n_ff = 0;            // <arch>.feed_forward_length
  int64_t n_ctx_train = 0;     // <arch>.context_length
  int64_t n_rot = 0;           // <arch>.rope.dimension_count (default head_dim)
  float rms_eps = 1e-5f;       // <arch>.attention.layer_norm_rms_epsilon
  float rope_freq_base = 10000.f;   // <arch>.rope.freq_base
  float rope_freq_scale = 1.f;      // 1 / <arch>.rope.scaling.factor when type == linear
  bool rope_neox = false;      // qwen2: true
  bool has_qkv_bias = false;   // qwen2: true
  bool tied_embeddings = false;// no output.weight in the file

  int64_t kv_dim() const { return n_head_kv * head_dim; }
  int64_t q_dim() const { return n_head * head_dim; }
  RopeParams rope() const {
    RopeParams p;
    p.n_dims = n_rot;
    p.freq_base = rope_freq_base;
    p.freq_scale = rope_freq_scale;
    p.neox = rope_neox;
    return p;
  }
};

// Reads and checks the hyperparameters of a GGUF file (no tensors loaded,
// but n_vocab is taken from token_embd.weight, which must exist).
Result<ModelHparams> read_hparams(const GgufFile& file);

struct LayerWeights {
  const float* attn_norm = nullptr;   // [n_embd]        blk.N.attn_norm.weight
  std::unique_ptr<Weight> wq;         // [q_dim][n_embd]  blk.N.attn_q.weight
  std::unique_ptr<Weight> wk;         // [kv_dim][n_embd] blk.N.attn_k.weight
  std::unique_ptr<Weight> wv;         // [kv_dim][n_embd] blk.N.attn_v.weight
  std::unique_ptr<Weight> wo;         // [n_embd][q_dim]  blk.N.attn_output.weight
  const float* bq = nullptr;          // [q_dim]  qwen2 only: blk.N.attn_q.bias
  const float* bk = nullptr;          // [kv_dim] qwen2 only
  const float* bv = nullptr;          // [kv_dim] qwen2 only
  const float* ffn_norm = nullptr;    // [n_embd]        blk.N.ffn_norm.weight
  std::unique_ptr<Weight> w_gate;     // [n_ff][n_embd]  blk.N.ffn_gate.weight
  std::unique_ptr<Weight> w_up;       // [n_ff][n_embd]  blk.N.ffn_up.weight
  std::unique_ptr<Weight> w_down;     // [n_embd][n_ff]  blk.N.ffn_down.weight
};

class Model {
 public:
  // Loads the model in `file` onto `backend`. Norm and bias vectors are used
  // as float32 (converted once when stored as F16/BF16) and live in backend
  // memory (Backend::prepare_vector): the pointers of LayerWeights,
  // output_norm() and rope_freqs() are device pointers on a GPU backend.
  static Result<std::unique_ptr<Model>> load(std::shared_ptr<const GgufFile> file,
                                              std::shared_ptr<Backend> backend);
  // Opens `path` and loads it.
  static Result<std::unique_ptr<Model>> load(const std::string& path,
                                              std::shared_ptr<Backend> backend);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelHparams& hparams() const { return hp_; }
  const GgufFile& gguf() const { return *file_; }
  std::shared_ptr<const GgufFile> gguf_shared() const { return file_; }
  Backend& backend() const { return *backend_; }
  // general.name, or empty when the file has none.
  const std::string& name() const { return name_; }
  // Bytes of all matmul weights read by one decode step (token_embd rows
  // excluded unless it is also the output projection).
  size_t weight_bytes() const;

  // Weights (read by the forward pass).
  const Weight& token_embd() const { return *token_embd_; }
  const Weight& output() const { return output_ ? *output_ : *token_embd_; }
  const float* output_norm() const { return output_norm_; }
  // Llama 3.1+ RoPE frequency divisors [n_rot / 2] (rope_freqs.weight), or null.
  const float* rope_freqs() const { return rope_freqs_; }
  // RoPE parameters of this model (hparams().rope() with rope_freqs()).
  RopeParams rope() const {
    RopeParams p = hp_.rope();
    p.freq_factors = rope_freqs_;
    return p;
  }
  const std::vector<LayerWeights>& layers() const { return layers_; }

 private:
  Model() = default;
  Status load_tensors();

  ModelHparams hp_;
  std::string name_;
  std::shared_ptr<const GgufFile> file_;
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<Weight> token_embd_;   // [n_vocab][n_embd]
  std::unique_ptr<Weight> output_;       // [n_vocab][n_embd], null when tied
  const float* output_norm_ = nullptr;   // [n_embd]
  const float* rope_freqs_ = nullptr;    // [n_rot / 2] or null
  std::vector<LayerWeights> layers_;
  std::vector<std::vector<float>> converted_;  // F16/BF16 vectors converted to float
};

}  // namespace scn::inference
