// The CPU backend: weights packed by pack_weight (packed_weight.h), matmuls
// by MatmulRunner (matmul.h), everything else by the ops of ops.h, all on
// one thread pool. The kernels are those of active_isa() (cpu_features.h).
// Backend memory is host memory (host_memory.h); paged attention gathers
// each sequence's K/V blocks into contiguous scratch and runs the attention
// op per chunk.
#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/host_memory.h"
#include "inference/backend/cpu/matmul.h"
#include "inference/backend/cpu/ops.h"
#include "inference/backend/cpu/packed_weight.h"
#include "inference/backend/thread_pool.h"

namespace scn::inference {
namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads) : pool_(n_threads), mm_(pool_, cpu::active_isa()) {}

  std::string_view name() const override { return "cpu"; }
  int n_threads() const override { return pool_.size(); }
  std::string describe() const override {
    return "cpu: " + std::to_string(pool_.size()) + " threads, " +
           std::string(cpu::isa_name(cpu::active_isa()));
  }

  void* alloc(size_t bytes) override { return host_alloc(bytes); }
  void free(void* p) override { host_free(p); }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  Result<const float*> prepare_vector(const float* host, int64_t) override { return host; }

  Result<std::unique_ptr<Weight>> prepare_weight(GgmlType type, int64_t rows, int64_t cols,
                                                 const void* data) override {
    SCN_ASSIGN_OR_RETURN(std::unique_ptr<cpu::PackedWeight> w,
                         cpu::pack_weight(type, rows, cols, data));
    return std::unique_ptr<Weight>(std::move(w));
  }

  void matmul(const Weight& w, const float* x, int64_t n, float* y) override {
    mm_.matmul(static_cast<const cpu::PackedWeight&>(w), x, n, y);
  }
  void matmul_multi(std::span<const Weight* const> ws, const float* x, int64_t n,
                    std::span<float* const> ys) override {
    const cpu::PackedWeight* pw[8];
    if (ws.size() > 8) return Backend::matmul_multi(ws, x, n, ys);
    for (size_t i = 0; i < ws.size(); ++i) pw[i] = static_cast<const cpu::PackedWeight*>(ws[i]);
    mm_.matmul_multi(std::span<const cpu::PackedWeight* const>(pw, ws.size()), x, n, ys);
  }
  // Prompts on the AMX tiles: the SwiGLU applied to the gate and up C tiles
  // in the matmul (gate and up never written); else the plain ops.
  void rms_norm_matmul_swiglu(const Weight& w_gate, const Weight& w_up, const float* x,
                              const float* norm, float eps, int64_t n, float* tmp, float* gate,
                              float* up, float* out) override {
    cpu::rms_norm(pool_, x, norm, tmp, n, w_gate.cols(), eps);
    if (mm_.matmul_swiglu(static_cast<const cpu::PackedWeight&>(w_gate),
                          static_cast<const cpu::PackedWeight&>(w_up), tmp, n, out))
      return;
    const Weight* ws[] = {&w_gate, &w_up};
    float* ys[] = {gate, up};
    matmul_multi(ws, tmp, n, ys);
    cpu::swiglu(pool_, gate, up, out, n * w_gate.rows());
  }
  void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) override {
    mm_.get_rows(static_cast<const cpu::PackedWeight&>(w), ids, n, out);
  }

  void rms_norm(const float* x, const float* weight, float* y, int64_t n, int64_t dim,
                float eps) override {
    cpu::rms_norm(pool_, x, weight, y, n, dim, eps);
  }
  void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* pos,
            const RopeParams& p) override {
    cpu::rope(pool_, x, n, n_heads, head_dim, pos, p);
  }
  void swiglu(const float* gate, const float* up, float* out, int64_t count) override {
    cpu::swiglu(pool_, gate, up, out, count);
  }
  void add(float* x, const float* y, int64_t count) override { cpu::add(pool_, x, y, count); }
  void add_bias(float* y, const float* bias, int64_t n, int64_t dim) override {
    cpu::add_bias(pool_, y, bias, n, dim);
  }
  void attention(const float* q, const float* k, const float* v, float* out,
                 const AttentionParams& p) override {
    cpu::attention(pool_, q, k, v, out, p);
  }

  void kv_store(const KvLayer& kv, const float* k, const float* v,
                const PagedBatch& b) override {
    host_kv_store(kv, k, v, b);
  }
  // Per chunk: its sequence's K/V rows [0, pos0 + n) gathered block by block
  // into kg_/vg_ [len][kv_dim], then the contiguous attention op.
  void paged_attention(const float* q, const KvLayer& kv, float* out, const PagedBatch& b,
                       const AttentionParams& p) override {
    const int64_t qd = p.n_heads * p.head_dim;
    for (int32_t s = 0; s < b.n_seqs; ++s) {
      const int32_t n = b.seq_n_rows[s], pos0 = b.seq_pos0[s], r0 = b.seq_row0[s];
      if (n <= 0) continue;
      const int64_t len = static_cast<int64_t>(pos0) + n;
      const size_t floats = static_cast<size_t>(len * kv.kv_dim);
      if (kg_.size() < floats) {
        kg_.resize(floats);
        vg_.resize(floats);
      }
      host_gather_kv(kv, b.seq_blocks + static_cast<size_t>(s) * b.max_blocks, len, kg_.data(),
                     vg_.data());
      AttentionParams pc = p;
      pc.n_tokens = n;
      pc.pos0 = pos0;
      pc.kv_stride = kv.kv_dim;
      cpu::attention(pool_, q + static_cast<size_t>(r0) * qd, kg_.data(), vg_.data(),
                     out + static_cast<size_t>(r0) * qd, pc);
    }
  }
  void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim,
                   float* out) override {
    host_gather_rows(x, rows, n, dim, out);
  }
  void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) override {
    host_argmax(logits, n, n_vocab, ids);
  }

 private:
  ThreadPool pool_;
  cpu::MatmulRunner mm_;
  std::vector<float> kg_, vg_;  // one sequence's K and V rows, gathered (paged_attention)
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::make_unique<CpuBackend>(n_threads);
}

}  // namespace scn::inference
