// Plain scalar reference implementations of every Backend op, written for
// clarity, not speed: the ground truth that backend_test.cpp checks each
// backend against. ReferenceBackend implements the Backend interface on top
// of them (single-threaded; used by tests, e.g. to check a forward pass
// independently of the SIMD kernels).
//
// Contract: same semantics and argument conventions as the Backend methods
// of the same name (inference/backend/backend.h). Quantized weights are
// handled through dequantize_row (backend/cpu/quants.h), so matmul with a
// quantized weight equals the float product with the dequantized weight,
// accumulated in double.
#pragma once

#include <cstdint>
#include <memory>

#include "inference/backend/backend.h"

namespace scn::inference::reference {

// y[n][rows] = x[n][cols] · Wᵀ where W is rows × cols stored in `type` at w.
void matmul(GgmlType type, const void* w, int64_t rows, int64_t cols, const float* x,
            int64_t n, float* y);
// out[i][cols] = row ids[i] of W, dequantized.
void get_rows(GgmlType type, const void* w, int64_t rows, int64_t cols, const int32_t* ids,
              int64_t n, float* out);
void rms_norm(const float* x, const float* weight, float* y, int64_t n, int64_t dim, float eps);
void rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& p);
void swiglu(const float* gate, const float* up, float* out, int64_t count);
void add(float* x, const float* y, int64_t count);
void add_bias(float* y, const float* bias, int64_t n, int64_t dim);
void attention(const float* q, const float* k, const float* v, float* out,
               const AttentionParams& p);
void kv_store(const KvLayer& kv, const float* k, const float* v, const PagedBatch& b);
// Row by row: each row's K/V positions [0, row_pos] looked up through its
// chunk's block table, then attention() for that one query row.
void paged_attention(const float* q, const KvLayer& kv, float* out, const PagedBatch& b,
                     const AttentionParams& p);
void gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim, float* out);
// The lowest id of the largest logit; NaN counts as -inf.
void argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids);

}  // namespace scn::inference::reference

namespace scn::inference {

// A Backend computing with the reference ops above (weights are used in
// place, never repacked; backend memory is host memory). Accepts every type
// dequantize_row handles.
std::unique_ptr<Backend> make_reference_backend();

}  // namespace scn::inference
