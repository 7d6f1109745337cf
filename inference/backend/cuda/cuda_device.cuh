// Internal to backend/cuda: device helpers shared by the op kernels
// (warp/block reductions). Blocks using block_sum/block_max have a multiple
// of 32 threads, at most 1024.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace scn::inference::cuda {

inline constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// The sum of v over the block, returned to every thread. `scratch` is
// __shared__ float[32]; the function synchronises before and after use, so
// it may be called repeatedly with the same scratch.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  const int n_warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();  // a previous call's readers are done with scratch
  if (lane == 0) scratch[wid] = v;
  __syncthreads();
  float t = lane < n_warps ? scratch[lane] : 0.f;
  return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  const int n_warps = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[wid] = v;
  __syncthreads();
  float t = lane < n_warps ? scratch[lane] : -INFINITY;
  return warp_max(t);
}

}  // namespace scn::inference::cuda
