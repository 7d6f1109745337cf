// A Backend that forwards every op to another one, for tests that wrap a
// backend to change or observe one op (count run_graph calls, replace the
// attention arithmetic). Header-only; override what differs.
//
// Contract: every virtual of Backend, fused ops and run_graph included, is
// passed to inner() unchanged, so a wrapper computes exactly what the inner
// backend computes except where a subclass overrides.
#pragma once

#include <memory>
#include <utility>

#include "inference/backend/backend.h"

namespace scn::inference {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(std::unique_ptr<Backend> inner) : in_(std::move(inner)) {}
  Backend& inner() const { return *in_; }

  std::string_view name() const override { return in_->name(); }
  int n_threads() const override { return in_->n_threads(); }
  std::string describe() const override { return in_->describe(); }
  void* alloc(size_t bytes) override { return in_->alloc(bytes); }
  void free(void* p) override { in_->free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { in_->upload(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override {
    in_->download(dst, src, bytes);
  }
  void synchronize() override { in_->synchronize(); }
  Result<const float*> prepare_vector(const float* host, int64_t n) override {
    return in_->prepare_vector(host, n);
  }
  void run_graph(uint64_t key, const std::function<void()>& record) override {
    in_->run_graph(key, record);
  }
  Result<std::unique_ptr<Weight>> prepare_weight(GgmlType t, int64_t rows, int64_t cols,
                                                 const void* data) override {
    return in_->prepare_weight(t, rows, cols, data);
  }
  void matmul(const Weight& w, const float* x, int64_t n, float* y) override {
    in_->matmul(w, x, n, y);
  }
  void matmul_multi(std::span<const Weight* const> ws, const float* x, int64_t n,
                    std::span<float* const> ys) override {
    in_->matmul_multi(ws, x, n, ys);
  }
  void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) override {
    in_->get_rows(w, ids, n, out);
  }
  void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t dim,
                float eps) override {
    in_->rms_norm(x, w, y, n, dim, eps);
  }
  void rope(float* x, int64_t n, int64_t nh, int64_t hd, const int32_t* pos,
            const RopeParams& p) override {
    in_->rope(x, n, nh, hd, pos, p);
  }
  void swiglu(const float* g, const float* u, float* out, int64_t count) override {
    in_->swiglu(g, u, out, count);
  }
  void add(float* x, const float* y, int64_t count) override { in_->add(x, y, count); }
  void add_bias(float* y, const float* b, int64_t n, int64_t dim) override {
    in_->add_bias(y, b, n, dim);
  }
  void attention(const float* q, const float* k, const float* v, float* out,
                 const AttentionParams& p) override {
    in_->attention(q, k, v, out, p);
  }
  void kv_store(const KvLayer& kv, const float* k, const float* v,
                const PagedBatch& b) override {
    in_->kv_store(kv, k, v, b);
  }
  void paged_attention(const float* q, const KvLayer& kv, float* out, const PagedBatch& b,
                       const AttentionParams& p) override {
    in_->paged_attention(q, kv, out, b, p);
  }
  void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim,
                   float* out) override {
    in_->gather_rows(x, rows, n, dim, out);
  }
  void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) override {
    in_->argmax(logits, n, n_vocab, ids);
  }
  void rms_norm_matmul(std::span<const Weight* const> ws, const float* x, const float* norm,
                       float eps, int64_t n, float* tmp, std::span<float* const> ys) override {
    in_->rms_norm_matmul(ws, x, norm, eps, n, tmp, ys);
  }
  void rms_norm_matmul_swiglu(const Weight& w_gate, const Weight& w_up, const float* x,
                              const float* norm, float eps, int64_t n, float* tmp, float* gate,
                              float* up, float* out) override {
    in_->rms_norm_matmul_swiglu(w_gate, w_up, x, norm, eps, n, tmp, gate, up, out);
  }
  void matmul_add(const Weight& w, const float* x, int64_t n, float* y, float* tmp) override {
    in_->matmul_add(w, x, n, y, tmp);
  }
  void qkv_rope_store(float* q, float* k, float* v, const float* bq, const float* bk,
                      const float* bv, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                      const RopeParams& rope, const KvLayer& kv, const PagedBatch& b) override {
    in_->qkv_rope_store(q, k, v, bq, bk, bv, n_heads, n_kv_heads, head_dim, rope, kv, b);
  }

 private:
  std::unique_ptr<Backend> in_;
};

}  // namespace scn::inference
