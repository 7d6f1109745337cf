// Greedy sampling on the device (see cuda_ops.h): one block per row scans
// n_vocab logits; ties and the reduction keep the lowest id; a NaN counts as
// -inf (as in reference::argmax).
#include <climits>
#include <cstdint>

#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

constexpr int kThreads = 1024;

// (v, i) is better than (bv, bi): larger value, or equal value and lower id.
__device__ __forceinline__ bool better(float v, int32_t i, float bv, int32_t bi) {
  return v > bv || (v == bv && i < bi);
}

__global__ void __launch_bounds__(kThreads)
argmax_kernel(const float* logits, int64_t n_vocab, int32_t* ids) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * n_vocab;
  float best = -INFINITY;
  int32_t bi = INT_MAX;
  for (int64_t j = threadIdx.x; j < n_vocab; j += blockDim.x) {
    const float v = isnan(row[j]) ? -INFINITY : row[j];
    if (better(v, static_cast<int32_t>(j), best, bi)) { best = v; bi = static_cast<int32_t>(j); }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, best, bi)) { best = ov; bi = oi; }
  }
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  if (lane == 0) { sv[wid] = best; si[wid] = bi; }
  __syncthreads();
  if (wid == 0) {
    const int n_warps = blockDim.x >> 5;
    best = lane < n_warps ? sv[lane] : -INFINITY;
    bi = lane < n_warps ? si[lane] : INT_MAX;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, o);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better(ov, oi, best, bi)) { best = ov; bi = oi; }
    }
    if (lane == 0) ids[blockIdx.x] = bi == INT_MAX ? 0 : bi;  // (n_vocab >= 1: never INT_MAX)
  }
}

}  // namespace

void launch_argmax(Stream s, const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) {
  if (n <= 0 || n_vocab <= 0) return;
  argmax_kernel<<<static_cast<unsigned>(n), kThreads, 0, s>>>(logits, n_vocab, ids);
}

}  // namespace scn::inference::cuda
