// Internal to backend/cuda: the matrix-vector kernel for n <= 8 activation
// rows, templated on the weight decoder (cuda_decode.cuh) and on n.
//
// Shape: 128 threads = 4 warps per block (small blocks: a short last wave);
// each warp owns kRowsPerWarp = 2 weight rows (two rows of the concatenated
// row space, or row j of gate and of up for kSwiglu) and walks them in units
// with lanes side by side (lane l reads unit l, l + 32, ...: 512 contiguous
// bytes per warp load for the 16-byte-unit types), kUnroll = 2 units per row
// per step, so 4 independent 16-byte loads (Q6_K: 12) are in flight per
// lane: 2 KiB per warp. Weights are streamed past L1
// (ld.global.nc.L1::no_allocate); x (n rows, at most 8 x cols floats) is
// read through L1 with 16-byte loads, once per unit for both rows of the
// warp, and reused by the warps of the SM. Each weight value is dequantized
// once in registers and used for all n rows of x; fp32 accumulation, then a
// butterfly warp reduction: every output is written by exactly one lane, so
// results are deterministic and no atomics are used.
#pragma once

#include "inference/backend/cuda/cuda_decode.cuh"
#include "inference/backend/cuda/matmul_kernels.h"

namespace scn::inference::cuda {

inline constexpr int kMatvecThreads = 128;
inline constexpr int kRowsPerWarp = 2;
inline constexpr int kUnroll = 2;

template <class D, int N>
__global__ void __launch_bounds__(kMatvecThreads) matvec_kernel(const MatvecParams p) {
  constexpr int R = kRowsPerWarp;
  const int lane = threadIdx.x & 31;
  const int64_t task = static_cast<int64_t>(blockIdx.x) * (kMatvecThreads / 32) + (threadIdx.x >> 5);

  WeightView w[R] = {};
  float* y[R];
  int64_t lrow[R];
  bool valid[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    valid[r] = false;
    y[r] = nullptr;
    lrow[r] = 0;
    const int64_t g = p.mode == MatvecMode::kSwiglu ? task : task * R + r;
#pragma unroll
    for (int s = 0; s < kMaxSegs; ++s) {
      const bool mine = p.mode == MatvecMode::kSwiglu
                            ? (s == r && g < p.seg[s].w.rows)
                            : (s < p.nseg && g >= p.seg[s].row0 && g < p.seg[s].row0 + p.seg[s].w.rows);
      if (mine) {
        w[r] = p.seg[s].w;
        y[r] = p.seg[s].y;
        lrow[r] = p.mode == MatvecMode::kSwiglu ? g : g - p.seg[s].row0;
        valid[r] = true;
      }
    }
  }
  if (!valid[0] && !valid[1]) return;  // whole warp: valid[] is warp-uniform
  const int units = valid[0] ? w[0].units : w[1].units;

  float acc[R][N];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < N; ++t) acc[r][t] = 0.f;

  // An invalid row (past the end) gets zero quants and scales: it adds 0.
  for (int u0 = lane; u0 < units; u0 += 32 * kUnroll) {
    typename D::Raw raw[kUnroll][R];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k)
#pragma unroll
      for (int r = 0; r < R; ++r) {
        raw[k][r] = typename D::Raw{};
        if (valid[r] && u0 + 32 * k < units) D::load(w[r], lrow[r], u0 + 32 * k, raw[k][r]);
      }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k)
      if (u0 + 32 * k < units) unit_dot<D, N, R>(raw[k], u0 + 32 * k, p.x, p.ldx, acc);
  }

#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < N; ++t) {
      float v = acc[r][t];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, off);
      acc[r][t] = v;
    }

  if (p.mode == MatvecMode::kSwiglu) {
    if (!valid[0]) return;
    const int64_t rows = w[0].rows;
#pragma unroll
    for (int t = 0; t < N; ++t)
      if (lane == t) {
        const float g = acc[0][t], u = acc[1][t];
        p.out[t * rows + lrow[0]] = g / (1.f + expf(-g)) * u;
      }
    return;
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < N; ++t)
      if (valid[r] && lane == r * N + t) {
        float* yp = y[r] + t * w[r].rows + lrow[r];
        *yp = p.mode == MatvecMode::kAccumulate ? *yp + acc[r][t] : acc[r][t];
      }
}

template <class D>
cudaError_t launch_matvec_t(const MatvecParams& p, int n, cudaStream_t stream) {
  const int64_t tasks = p.mode == MatvecMode::kSwiglu
                            ? p.seg[0].w.rows
                            : (p.total_rows + kRowsPerWarp - 1) / kRowsPerWarp;
  const int64_t blocks = (tasks + kMatvecThreads / 32 - 1) / (kMatvecThreads / 32);
  if (blocks <= 0) return cudaSuccess;
  if (blocks > 0x7FFFFFFF) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(blocks)), block(kMatvecThreads);
  switch (n) {
    case 1: matvec_kernel<D, 1><<<grid, block, 0, stream>>>(p); break;
    case 2: matvec_kernel<D, 2><<<grid, block, 0, stream>>>(p); break;
    case 3: matvec_kernel<D, 3><<<grid, block, 0, stream>>>(p); break;
    case 4: matvec_kernel<D, 4><<<grid, block, 0, stream>>>(p); break;
    case 5: matvec_kernel<D, 5><<<grid, block, 0, stream>>>(p); break;
    case 6: matvec_kernel<D, 6><<<grid, block, 0, stream>>>(p); break;
    case 7: matvec_kernel<D, 7><<<grid, block, 0, stream>>>(p); break;
    case 8: matvec_kernel<D, 8><<<grid, block, 0, stream>>>(p); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace scn::inference::cuda
