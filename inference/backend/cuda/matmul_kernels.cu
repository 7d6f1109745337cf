// The small kernels around the weight products: preparing x (rms_norm,
// conversion to half / bf16, zero padding), dequantizing a weight to half for
// cuBLAS, get_rows and the swiglu of the n > 8 path.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "inference/backend/cuda/cuda_decode.cuh"
#include "inference/backend/cuda/matmul_kernels.h"

namespace scn::inference::cuda {
namespace {

template <class T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

constexpr int kPrepThreads = 256;

// One block per row of x.
template <class OutT>
__global__ void __launch_bounds__(kPrepThreads)
prep_x_kernel(const float* x, int64_t cols, const float* norm, float eps, OutT* out, int64_t ldo) {
  const int64_t row = blockIdx.x;
  const float* xr = x + row * cols;
  OutT* o = out + row * ldo;
  float inv = 1.f;
  if (norm) {
    __shared__ float partial[kPrepThreads / 32];
    float ss = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += kPrepThreads) ss = fmaf(xr[c], xr[c], ss);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xFFFFFFFFu, ss, off);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = ss;
    __syncthreads();
    float total = 0.f;
#pragma unroll
    for (int w = 0; w < kPrepThreads / 32; ++w) total += partial[w];  // same order in every thread
    inv = 1.f / sqrtf(total / static_cast<float>(cols) + eps);
  }
  for (int64_t c = threadIdx.x; c < ldo; c += kPrepThreads) {
    float v = 0.f;
    if (c < cols) v = norm ? xr[c] * inv * norm[c] : xr[c];
    o[c] = from_float<OutT>(v);
  }
}

// One thread per unit, grid-stride over rows * units.
template <class D>
__global__ void dequant_half_kernel(const WeightView w, __half* out, int64_t ldo) {
  const int64_t total = w.rows * static_cast<int64_t>(w.units);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / w.units;
    const int u = static_cast<int>(i - row * w.units);
    typename D::Raw raw;
    D::load(w, row, u, raw);
    __half* o = out + row * ldo;
#pragma unroll
    for (int run = 0; run < D::kRuns; ++run) {
      float v[D::kRunLen];
      D::run_vals(raw, run, v);
      const int64_t c0 = D::run_col(u, run);
      const float sc = D::run_scale(raw, run), mn = D::run_min(raw, run);
#pragma unroll
      for (int k = 0; k < D::kRunLen; ++k)
        if (c0 + k < w.cols) o[c0 + k] = __float2half_rn(sc * v[k] - mn);
    }
  }
}

// One block per id; threads walk the row's units.
template <class D>
__global__ void get_rows_kernel(const WeightView w, const int32_t* ids, float* out) {
  const int64_t i = blockIdx.x;
  const int32_t id = ids[i];
  float* o = out + i * w.cols;
  if (id < 0 || id >= w.rows) {
    for (int64_t c = threadIdx.x; c < w.cols; c += blockDim.x) o[c] = 0.f;
    return;
  }
  for (int u = threadIdx.x; u < w.units; u += blockDim.x) {
    typename D::Raw raw;
    D::load(w, id, u, raw);
#pragma unroll
    for (int run = 0; run < D::kRuns; ++run) {
      float v[D::kRunLen];
      D::run_vals(raw, run, v);
      const int64_t c0 = D::run_col(u, run);
      const float sc = D::run_scale(raw, run), mn = D::run_min(raw, run);
#pragma unroll
      for (int k = 0; k < D::kRunLen; ++k)
        if (c0 + k < w.cols) o[c0 + k] = sc * v[k] - mn;
    }
  }
}

__global__ void swiglu_kernel(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

unsigned grid_for(int64_t items, int threads) {
  const int64_t b = (items + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, 65535LL * 16));
}

}  // namespace

cudaError_t launch_matvec(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
      return launch_matvec_float(t, p, n, stream);
    case GgmlType::Q8_0: case GgmlType::Q4_0: return launch_matvec_legacy(t, p, n, stream);
    case GgmlType::Q4_K: case GgmlType::Q6_K: return launch_matvec_kquant(t, p, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_prep_x(const float* x, int64_t n, int64_t cols, const float* norm, float eps,
                          GgmlType out_type, void* out, int64_t ldo, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n > 0x7FFFFFFF || ldo < cols) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(n)), block(kPrepThreads);
  switch (out_type) {
    case GgmlType::F32:
      prep_x_kernel<float><<<grid, block, 0, stream>>>(x, cols, norm, eps, static_cast<float*>(out), ldo);
      break;
    case GgmlType::F16:
      prep_x_kernel<__half><<<grid, block, 0, stream>>>(x, cols, norm, eps, static_cast<__half*>(out), ldo);
      break;
    case GgmlType::BF16:
      prep_x_kernel<__nv_bfloat16><<<grid, block, 0, stream>>>(x, cols, norm, eps,
                                                               static_cast<__nv_bfloat16*>(out), ldo);
      break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t launch_dequant_half(GgmlType t, const WeightView& w, void* out, int64_t ldo,
                                cudaStream_t stream) {
  if (ldo < w.cols) return cudaErrorInvalidValue;
  const int64_t items = w.rows * static_cast<int64_t>(w.units);
  if (items <= 0) return cudaSuccess;
  const unsigned grid = grid_for(items, 256);
  bool known = true;
  switch (t) {
    case GgmlType::F32: dequant_half_kernel<Dec<GgmlType::F32>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    case GgmlType::F16: dequant_half_kernel<Dec<GgmlType::F16>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    case GgmlType::BF16: dequant_half_kernel<Dec<GgmlType::BF16>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    case GgmlType::Q8_0: dequant_half_kernel<Dec<GgmlType::Q8_0>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    case GgmlType::Q4_0: dequant_half_kernel<Dec<GgmlType::Q4_0>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    case GgmlType::Q4_K: dequant_half_kernel<Dec<GgmlType::Q4_K>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    case GgmlType::Q6_K: dequant_half_kernel<Dec<GgmlType::Q6_K>><<<grid, 256, 0, stream>>>(w, static_cast<__half*>(out), ldo); break;
    default: known = false;
  }
  return known ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_get_rows(GgmlType t, const WeightView& w, const int32_t* ids, int64_t n,
                            float* out, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n > 0x7FFFFFFF) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(n)), block(128);
  bool known = true;
  switch (t) {
    case GgmlType::F32: get_rows_kernel<Dec<GgmlType::F32>><<<grid, block, 0, stream>>>(w, ids, out); break;
    case GgmlType::F16: get_rows_kernel<Dec<GgmlType::F16>><<<grid, block, 0, stream>>>(w, ids, out); break;
    case GgmlType::BF16: get_rows_kernel<Dec<GgmlType::BF16>><<<grid, block, 0, stream>>>(w, ids, out); break;
    case GgmlType::Q8_0: get_rows_kernel<Dec<GgmlType::Q8_0>><<<grid, block, 0, stream>>>(w, ids, out); break;
    case GgmlType::Q4_0: get_rows_kernel<Dec<GgmlType::Q4_0>><<<grid, block, 0, stream>>>(w, ids, out); break;
    case GgmlType::Q4_K: get_rows_kernel<Dec<GgmlType::Q4_K>><<<grid, block, 0, stream>>>(w, ids, out); break;
    case GgmlType::Q6_K: get_rows_kernel<Dec<GgmlType::Q6_K>><<<grid, block, 0, stream>>>(w, ids, out); break;
    default: known = false;
  }
  return known ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t launch_matmul_swiglu(const float* gate, const float* up, float* out, int64_t count,
                          cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  swiglu_kernel<<<grid_for(count, 256), 256, 0, stream>>>(gate, up, out, count);
  return cudaGetLastError();
}

}  // namespace scn::inference::cuda
