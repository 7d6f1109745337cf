// KV-cache writes and row gathers (see cuda_ops.h): one block per row,
// threads over the row's floats.
#include <algorithm>
#include <cstdint>

#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

constexpr int kThreads = 128;

__global__ void kv_store_kernel(float* kc, float* vc, int64_t block_stride, int32_t bt,
                                int64_t kv_dim, const float* k, const float* v,
                                const int32_t* row_slot) {
  const int64_t r = blockIdx.x;
  const int32_t slot = row_slot[r];
  if (slot < 0) return;
  const int64_t off = static_cast<int64_t>(slot / bt) * block_stride +
                      static_cast<int64_t>(slot % bt) * kv_dim;
  const float* kr = k + r * kv_dim;
  const float* vr = v + r * kv_dim;
  for (int64_t e = threadIdx.x; e < kv_dim; e += blockDim.x) {
    kc[off + e] = kr[e];
    vc[off + e] = vr[e];
  }
}

__global__ void gather_rows_kernel(const float* x, const int32_t* rows, int64_t dim,
                                   float* out) {
  const int64_t i = blockIdx.x;
  const float* src = x + static_cast<int64_t>(rows[i]) * dim;
  float* dst = out + i * dim;
  for (int64_t e = threadIdx.x; e < dim; e += blockDim.x) dst[e] = src[e];
}

}  // namespace

void launch_kv_store(Stream s, const KvLayer& kv, const float* k, const float* v,
                     const PagedBatch& b) {
  if (b.n_rows <= 0 || kv.kv_dim <= 0) return;
  kv_store_kernel<<<static_cast<unsigned>(b.n_rows), kThreads, 0, s>>>(
      kv.k, kv.v, kv.block_stride, std::max<int32_t>(kv.block_tokens, 1), kv.kv_dim, k, v,
      b.row_slot);
}

void launch_gather_rows(Stream s, const float* x, const int32_t* rows, int64_t n, int64_t dim,
                        float* out) {
  if (n <= 0 || dim <= 0) return;
  gather_rows_kernel<<<static_cast<unsigned>(n), kThreads, 0, s>>>(x, rows, dim, out);
}

}  // namespace scn::inference::cuda
