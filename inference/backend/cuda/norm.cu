// RMSNorm: one block per row, float accumulation, block reduction (see
// cuda_ops.h). Rows whose data and weight are 16-byte aligned with dim % 4 ==
// 0 are read as float4.
#include <cstdint>

#include "inference/backend/cuda/cuda_device.cuh"
#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

constexpr int kNormThreads = 256;

template <bool kVec4>
__global__ void __launch_bounds__(kNormThreads)
rms_norm_kernel(const float* x, const float* __restrict__ w, float* y, int64_t dim, float eps) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  float* yr = y + row * dim;
  float ss = 0.f;
  if constexpr (kVec4) {
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    for (int64_t i = threadIdx.x; i < dim / 4; i += blockDim.x) {
      const float4 v = x4[i];
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
  } else {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  }
  ss = block_sum(ss, scratch);
  const float inv = 1.f / sqrtf(ss / static_cast<float>(dim) + eps);
  if constexpr (kVec4) {
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    const float4* w4 = reinterpret_cast<const float4*>(w);
    float4* y4 = reinterpret_cast<float4*>(yr);
    for (int64_t i = threadIdx.x; i < dim / 4; i += blockDim.x) {
      const float4 v = x4[i], g = w4[i];
      y4[i] = make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
    }
  } else {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * inv * w[i];
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace

void launch_rms_norm(Stream s, const float* x, const float* w, float* y, int64_t n,
                     int64_t dim, float eps) {
  if (n <= 0 || dim <= 0) return;
  const bool vec = dim % 4 == 0 && aligned16(x) && aligned16(w) && aligned16(y);
  const dim3 grid(static_cast<unsigned>(n));
  if (vec)
    rms_norm_kernel<true><<<grid, kNormThreads, 0, s>>>(x, w, y, dim, eps);
  else
    rms_norm_kernel<false><<<grid, kNormThreads, 0, s>>>(x, w, y, dim, eps);
}

}  // namespace scn::inference::cuda
