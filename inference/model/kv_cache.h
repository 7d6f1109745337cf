// The key/value cache of one sequence: for every layer, K and V rows of
// n_kv_heads * head_dim float32 values for positions [0, n_ctx).
//
// Contract: memory is allocated once by the constructor, zero-filled and
// committed lazily by the OS as positions are written (calloc);
// row(layer, pos) for 0 <= layer < n_layer, 0 <= pos < n_ctx. The cache does
// not track which positions are valid — the Context does (n_past). The
// engine's sequences share the paged cache of model/kv_pool.h instead; this
// one serves the single-sequence Context (tools, tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace scn::inference {

class KvCache {
 public:
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim);

  int64_t n_layer() const { return n_layer_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }   // floats per row (the row stride)
  size_t bytes() const { return 2 * static_cast<size_t>(n_layer_) * layer_floats() * sizeof(float); }

  // K and V of one layer: [n_ctx][kv_dim].
  float* k(int64_t layer) { return k_.get() + static_cast<size_t>(layer) * layer_floats(); }
  float* v(int64_t layer) { return v_.get() + static_cast<size_t>(layer) * layer_floats(); }
  const float* k(int64_t layer) const { return k_.get() + static_cast<size_t>(layer) * layer_floats(); }
  const float* v(int64_t layer) const { return v_.get() + static_cast<size_t>(layer) * layer_floats(); }
  // Row of position pos in a layer.
  float* k_row(int64_t layer, int64_t pos) { return k(layer) + static_cast<size_t>(pos) * kv_dim_; }
  float* v_row(int64_t layer, int64_t pos) { return v(layer) + static_cast<size_t>(pos) * kv_dim_; }

 private:
  size_t layer_floats() const { return static_cast<size_t>(n_ctx_) * kv_dim_; }
  struct Free {
    void operator()(float* p) const;
  };
  int64_t n_layer_, n_ctx_, kv_dim_;
  std::unique_ptr<float, Free> k_, v_;
};

}  // namespace scn::inference
