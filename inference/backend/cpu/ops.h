// The CPU backend's element-wise and attention ops (everything but the
// weight matmuls, which live in backend/cpu/matmul*.{h,cpp}). Each op splits
// its work over the pool's threads. Semantics are those of the Backend
// methods of the same name (inference/backend/backend.h).
#pragma once

#include <cstdint>

#include "inference/backend/backend.h"
#include "inference/backend/thread_pool.h"

namespace scn::inference::cpu {

void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t n,
              int64_t dim, float eps);
void rope(ThreadPool& pool, float* x, int64_t n, int64_t n_heads, int64_t head_dim,
          const int32_t* pos, const RopeParams& p);
void swiglu(ThreadPool& pool, const float* gate, const float* up, float* out, int64_t count);
void add(ThreadPool& pool, float* x, const float* y, int64_t count);
void add_bias(ThreadPool& pool, float* y, const float* bias, int64_t n, int64_t dim);
void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out,
               const AttentionParams& p);

}  // namespace scn::inference::cpu
