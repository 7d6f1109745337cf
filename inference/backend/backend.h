// The compute backend: a small table of ops that the per-architecture
// forward passes (model/) are written in. The CPU backend (backend/cpu) is
// always present; a CUDA backend (backend/cuda, SCN_CUDA) implements the same
// table. backend/backend_test.cpp checks every op of every backend against
// the plain scalar reference in backend/reference.h within a tolerance.
//
// Conventions: activations are row-major float32, one row per token.
// Pointers passed to ops are backend memory (host memory for the CPU).
// A weight matrix W has `rows` output features and `cols` input features; in
// GGUF it is stored with dims {cols, rows}, each row in the weight's type.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "inference/gguf/ggml_type.h"

namespace scn::inference {

// A weight prepared by one backend (possibly repacked into a layout suited
// to its kernels). It references, or owns, its data.
class Weight {
 public:
  virtual ~Weight() = default;
  GgmlType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Bytes read from memory by one full pass over the weight (for bandwidth figures).
  virtual size_t bytes() const = 0;

 protected:
  Weight(GgmlType type, int64_t rows, int64_t cols) : type_(type), rows_(rows), cols_(cols) {}
  GgmlType type_;
  int64_t rows_, cols_;
};

struct RopeParams {
  int64_t n_dims = 0;        // rotated dimensions of each head (head_dim usually)
  float freq_base = 10000.f;
  float freq_scale = 1.f;    // linear scaling: positions are multiplied by it
  bool neox = false;         // false: adjacent pairs (x0,x1); true: halves (x_i, x_{i+d/2})
  // Per-pair divisors of the rotation angle, [n_dims / 2] (Llama 3.1+
  // rope_freqs.weight: pair k turns by pos * freq_scale * base^(-2k/n_dims) /
  // freq_factors[k]); null: all 1.
  const float* freq_factors = nullptr;
};

// Causal attention of n new query tokens of one sequence against a K/V
// cache holding kv_len = pos0 + n positions (the new ones already written).
struct AttentionParams {
  int64_t n_tokens = 0;   // new query rows
  int64_t pos0 = 0;       // position of the first new token
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0; // n_heads % n_kv_heads == 0 (GQA)
  int64_t head_dim = 0;
  float scale = 1.f;      // usually 1/sqrt(head_dim)
  // q:   [n_tokens][n_heads * head_dim]
  // k,v: [kv_len][n_kv_heads * head_dim], row stride kv_stride floats
  // out: [n_tokens][n_heads * head_dim]
  int64_t kv_stride = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual int n_threads() const = 0;

  // Prepares a weight whose rows are stored in `type` at `data` (which stays
  // valid for the weight's lifetime, e.g. an mmap). Fails (kUnprocessable) for
  // a type the backend cannot compute with, naming it.
  virtual Result<std::unique_ptr<Weight>> prepare_weight(GgmlType type, int64_t rows,
                                                         int64_t cols, const void* data) = 0;

  // y[n][w.rows] = x[n][w.cols] · Wᵀ. n == 1 takes the matrix-vector path.
  virtual void matmul(const Weight& w, const float* x, int64_t n, float* y) = 0;
  // ys[i][n][ws[i]->rows] = x[n][cols] · ws[i]ᵀ for weights that share one
  // input (all with the same cols; ws.size() == ys.size()): the results of
  // matmul per weight, in one call so that a backend can prepare the input
  // once and run the products as one parallel region (the q/k/v and the
  // gate/up projections of a decode step).
  virtual void matmul_multi(std::span<const Weight* const> ws, const float* x, int64_t n,
                            std::span<float* const> ys) {
    for (size_t i = 0; i < ws.size(); ++i) matmul(*ws[i], x, n, ys[i]);
  }
  // out[i][w.cols] = row ids[i] of W, as float (embedding lookup).
  virtual void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) = 0;

  // y[i] = x[i] / sqrt(mean(x[i]^2) + eps) * weight, for n rows of dim.
  virtual void rms_norm(const float* x, const float* weight, float* y, int64_t n,
                        int64_t dim, float eps) = 0;
  // Rotates each head of x[n][n_heads * head_dim] in place at positions pos[i].
  virtual void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim,
                    const int32_t* pos, const RopeParams& p) = 0;
  // out[i] = silu(gate[i]) * up[i]; out may be gate or up (in place).
  virtual void swiglu(const float* gate, const float* up, float* out, int64_t count) = 0;
  // x[i] += y[i].
  virtual void add(float* x, const float* y, int64_t count) = 0;
  // y[r][c] += bias[c] for n rows of dim.
  virtual void add_bias(float* y, const float* bias, int64_t n, int64_t dim) = 0;
  virtual void attention(const float* q, const float* k, const float* v, float* out,
                         const AttentionParams& p) = 0;
};

// The CPU backend with n_threads worker threads (0: all cores).
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace scn::inference
