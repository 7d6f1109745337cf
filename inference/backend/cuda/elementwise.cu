// Element-wise ops: swiglu, add, add_bias (see cuda_ops.h). Grid-stride loops
// over 64-bit indices; expf (not __expf) keeps silu within a few ulps.
#include <algorithm>
#include <cstdint>

#include "inference/backend/cuda/cuda_device.cuh"
#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t count) {
  return static_cast<unsigned>(std::min<int64_t>(ceil_div(count, kThreads), 65536));
}

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const float g = gate[i];
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

__global__ void add_kernel(float* x, const float* y, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride)
    x[i] += y[i];
}

// One block row per matrix row (grid-stride over rows), threads over columns.
__global__ void add_bias_kernel(float* y, const float* bias, int64_t n, int64_t dim) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    float* yr = y + r * dim;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) yr[c] += bias[c];
  }
}

}  // namespace

void launch_swiglu(Stream s, const float* gate, const float* up, float* out, int64_t count) {
  if (count <= 0) return;
  swiglu_kernel<<<grid_for(count), kThreads, 0, s>>>(gate, up, out, count);
}

void launch_add(Stream s, float* x, const float* y, int64_t count) {
  if (count <= 0) return;
  add_kernel<<<grid_for(count), kThreads, 0, s>>>(x, y, count);
}

void launch_add_bias(Stream s, float* y, const float* bias, int64_t n, int64_t dim) {
  if (n <= 0 || dim <= 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(n, 65536));
  add_bias_kernel<<<grid, kThreads, 0, s>>>(y, bias, n, dim);
}

}  // namespace scn::inference::cuda
