// The compute backend: a small table of ops that the per-architecture
// forward passes (model/) are written in. The CPU backend (backend/cpu) is
// always present; a CUDA backend (backend/cuda, built with SCN_CUDA=ON)
// implements the same table on an NVIDIA GPU. backend/backend_test.cpp checks
// every op of every backend against the plain scalar reference in
// backend/reference.h within a tolerance (normalised mean squared error).
//
// Conventions: activations are row-major float32, one row per token.
// Pointers passed to ops are *backend memory*: host memory for the CPU and
// the reference backends, device memory for CUDA. Backend memory comes from
// alloc() and is filled / read with upload() / download(); a forward pass
// written in these ops runs unchanged on every backend.
// A weight matrix W has `rows` output features and `cols` input features; in
// GGUF it is stored with dims {cols, rows}, each row in the weight's type.
//
// Ordering: ops run in the order they are called (a GPU backend queues them
// on one stream); download() and synchronize() wait for everything queued.
// Ops are not re-entrant: one thread uses a backend at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
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

// One layer of the paged KV cache (model/kv_pool.h) in backend memory:
// block b holds block_tokens rows of kv_dim floats of K at k + b*block_stride
// and of V at v + b*block_stride. The KV slot of position p of a sequence is
// blocks[p / block_tokens] * block_tokens + p % block_tokens.
struct KvLayer {
  float* k = nullptr;
  float* v = nullptr;
  int64_t block_stride = 0;  // floats between the starts of blocks b and b + 1
  int32_t block_tokens = 0;
  int64_t kv_dim = 0;        // n_kv_heads * head_dim
};

// The rows of one batched forward step (BatchContext), all arrays in backend
// memory. Rows are grouped in S chunks, one per sequence, chunk after chunk;
// chunk s has seq_n_rows[s] rows starting at row seq_row0[s], its tokens at
// positions seq_pos0[s] .. seq_pos0[s] + seq_n_rows[s] - 1, and its block
// table at seq_blocks + s * max_blocks (entries past its length unused).
// Row r of chunk s at position p attends to positions [0, p] of its sequence
// (causal): K/V of positions < seq_pos0[s] are already in the blocks, those of
// the chunk's own rows are written by kv_store() before attention.
struct PagedBatch {
  int32_t n_rows = 0;           // N
  int32_t n_seqs = 0;           // S
  int32_t max_blocks = 0;       // columns of seq_blocks
  int32_t max_len = 0;          // >= every seq_pos0[s] + seq_n_rows[s] (sizes GPU grids)
  int32_t max_rows = 0;         // >= every seq_n_rows[s]
  const int32_t* row_pos = nullptr;    // [N] position of each row
  const int32_t* row_seq = nullptr;    // [N] chunk of each row
  const int32_t* row_slot = nullptr;   // [N] KV slot of each row (see KvLayer)
  const int32_t* seq_row0 = nullptr;   // [S]
  const int32_t* seq_n_rows = nullptr; // [S]
  const int32_t* seq_pos0 = nullptr;   // [S]
  const int32_t* seq_blocks = nullptr; // [S][max_blocks]
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual int n_threads() const = 0;
  // A line describing the device ("cpu: 2 threads, avx512", "cuda:0 NVIDIA
  // H200, 139.8 GiB, sm_90") for logs and benchmark reports.
  virtual std::string describe() const { return std::string(name()); }

  // ---- backend memory ------------------------------------------------------
  // alloc: `bytes` of zeroed backend memory, or null when it cannot be had.
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* p) = 0;
  // host -> backend and backend -> host copies. upload() may return before
  // the copy is done only if `src` is not needed afterwards (the GPU backend
  // stages it); download() returns when `dst` holds the data.
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, const void* src, size_t bytes) = 0;
  // Waits until every queued op is done.
  virtual void synchronize() {}
  // A float vector (norm weights, biases, RoPE factors) in backend memory,
  // owned by the backend until it is destroyed. The CPU backend returns `host`
  // itself (which must then outlive the backend's use of it).
  virtual Result<const float*> prepare_vector(const float* host, int64_t n) = 0;

  // Runs record(), which queues ops only (no download/synchronize/alloc),
  // possibly as a replay of a graph captured under the same `key` earlier
  // (CUDA Graphs): the ops and their pointer/size arguments must be the same
  // for the same key, while the contents of the buffers they read may differ
  // from call to call. The default just calls record().
  virtual void run_graph(uint64_t key, const std::function<void()>& record) { record(); }

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

  // ---- paged attention (the batched forward pass) --------------------------
  // Writes row r of k[N][kv_dim] and v[N][kv_dim] into KV slot b.row_slot[r].
  virtual void kv_store(const KvLayer& kv, const float* k, const float* v,
                        const PagedBatch& b) = 0;
  // out[N][n_heads * head_dim] = causal attention of q[N][n_heads * head_dim]
  // (row r at position b.row_pos[r]) over K/V positions [0, row_pos[r]] of
  // its sequence's blocks. p.n_heads, n_kv_heads, head_dim and scale are
  // used (n_tokens, pos0 and kv_stride are not).
  virtual void paged_attention(const float* q, const KvLayer& kv, float* out,
                               const PagedBatch& b, const AttentionParams& p) = 0;
  // out[i][dim] = x[rows[i]][dim] for i < n.
  virtual void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim,
                           float* out) = 0;
  // ids[i] = arg-max of logits[i][n_vocab] (the lowest id on ties), i < n;
  // ids in backend memory. Greedy sampling on the device: only ids travel back.
  virtual void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) = 0;

  // ---- fused ops -------------------------------------------------------------
  // Each equals the sequence of basic ops in its comment (which the default
  // implementation runs, using the caller's scratch); a backend overrides
  // them to save memory passes and kernel launches in decode steps.
  //
  // tmp[n][cols] = rms_norm(x, norm, eps); ys[i] = tmp · ws[i]ᵀ (matmul_multi).
  virtual void rms_norm_matmul(std::span<const Weight* const> ws, const float* x,
                               const float* norm, float eps, int64_t n, float* tmp,
                               std::span<float* const> ys) {
    rms_norm(x, norm, tmp, n, ws[0]->cols(), eps);
    matmul_multi(ws, tmp, n, ys);
  }
  // tmp[n][cols] = rms_norm(x); gate = tmp · w_gateᵀ; up = tmp · w_upᵀ;
  // out[n][rows] = silu(gate) * up. gate and up are [n][rows] scratch; out may
  // be gate.
  virtual void rms_norm_matmul_swiglu(const Weight& w_gate, const Weight& w_up,
                                      const float* x, const float* norm, float eps,
                                      int64_t n, float* tmp, float* gate, float* up,
                                      float* out) {
    rms_norm(x, norm, tmp, n, w_gate.cols(), eps);
    const Weight* ws[] = {&w_gate, &w_up};
    float* ys[] = {gate, up};
    matmul_multi(ws, tmp, n, ys);
    swiglu(gate, up, out, n * w_gate.rows());
  }
  // tmp[n][rows] = x · Wᵀ; y += tmp (the residual add after a projection).
  virtual void matmul_add(const Weight& w, const float* x, int64_t n, float* y, float* tmp) {
    matmul(w, x, n, tmp);
    add(y, tmp, n * w.rows());
  }
  // The attention block's glue: q += bq, k += bk, v += bv (each bias may be
  // null), RoPE on q [N][n_heads*head_dim] and k [N][n_kv_heads*head_dim] at
  // b.row_pos, then kv_store(kv, k, v, b). `pos` is b.row_pos.
  virtual void qkv_rope_store(float* q, float* k, float* v, const float* bq,
                              const float* bk, const float* bv, int64_t n_heads,
                              int64_t n_kv_heads, int64_t head_dim, const RopeParams& rope,
                              const KvLayer& kv, const PagedBatch& b) {
    const int64_t n = b.n_rows, qd = n_heads * head_dim, kd = n_kv_heads * head_dim;
    if (bq) add_bias(q, bq, n, qd);
    if (bk) add_bias(k, bk, n, kd);
    if (bv) add_bias(v, bv, n, kd);
    this->rope(q, n, n_heads, head_dim, b.row_pos, rope);
    this->rope(k, n, n_kv_heads, head_dim, b.row_pos, rope);
    kv_store(kv, k, v, b);
  }
};

// An owning handle to backend memory.
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend* be, size_t bytes) : be_(be), p_(bytes ? be->alloc(bytes) : nullptr), bytes_(bytes) {}
  BackendBuffer(BackendBuffer&& o) noexcept : be_(o.be_), p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; }
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    if (this != &o) { reset(); be_ = o.be_; p_ = o.p_; bytes_ = o.bytes_; o.p_ = nullptr; }
    return *this;
  }
  ~BackendBuffer() { reset(); }
  void reset() { if (p_) be_->free(p_); p_ = nullptr; }
  // False when the allocation failed (bytes > 0 and no memory).
  bool ok() const { return bytes_ == 0 || p_ != nullptr; }
  size_t bytes() const { return bytes_; }
  template <typename T = void> T* get() const { return static_cast<T*>(p_); }

 private:
  Backend* be_ = nullptr;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// The CPU backend with n_threads worker threads (0: all cores).
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

// The backend named by `device`: "cpu"; "cuda" or "cuda:N" (GPU N; fails with
// kUnavailable naming the reason when this build has no CUDA, no driver or no
// such GPU); "auto" (the first GPU when one is usable, else the CPU, logging
// which and why). n_threads is the CPU backend's (0: all cores).
Result<std::unique_ptr<Backend>> make_backend(std::string_view device, int n_threads);

}  // namespace scn::inference
