// Internal to backend/cuda: host entry points of the weight-product kernels
// (matvec_*.cu, matmul_kernels.cu), used by matmul_runner.cu. All launches are
// asynchronous on `stream`; each returns the launch error (cudaSuccess when
// queued).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "inference/backend/cuda/cuda_weight.h"

namespace scn::inference::cuda {

inline constexpr int kMaxSegs = 4;

// One weight of a matrix-vector launch: its rows are rows row0 ..
// row0 + w.rows - 1 of the launch's concatenated row space; y is [n][w.rows].
struct MatvecSeg {
  WeightView w;
  float* y = nullptr;
  int64_t row0 = 0;
};

enum class MatvecMode : int { kStore = 0, kAccumulate = 1, kSwiglu = 2 };

// y = x · Wᵀ for n <= 8 rows of x ([n][ldx] float, 16-byte aligned, ldx a
// multiple of 8 and >= every w.ld, columns past cols zero). All segments
// have the launch's type and the same cols. kSwiglu: nseg == 2 (gate, up,
// same rows), out[n][rows] = silu(gate) * up.
struct MatvecParams {
  MatvecSeg seg[kMaxSegs];
  int nseg = 0;
  int64_t total_rows = 0;
  const float* x = nullptr;
  int64_t ldx = 0;
  MatvecMode mode = MatvecMode::kStore;
  float* out = nullptr;
};

// Per-family launchers (matvec_float.cu: F32/F16/BF16, matvec_legacy.cu:
// Q8_0/Q4_0, matvec_kquant.cu: Q4_K/Q6_K); cudaErrorInvalidValue for a type
// or n outside the family / 1..8.
cudaError_t launch_matvec_float(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream);
cudaError_t launch_matvec_legacy(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream);
cudaError_t launch_matvec_kquant(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream);
cudaError_t launch_matvec(GgmlType t, const MatvecParams& p, int n, cudaStream_t stream);

// out[r][ldo] = op(x[r][cols]) for r < n, columns cols..ldo-1 zero, where
// op(x) = x or rms_norm(x) * norm (norm != null). OutT: float, __half or
// __nv_bfloat16 (chosen by out_type: F32, F16, BF16).
cudaError_t launch_prep_x(const float* x, int64_t n, int64_t cols, const float* norm, float eps,
                          GgmlType out_type, void* out, int64_t ldo, cudaStream_t stream);

// out[r][ldo] (half) = the dequantized rows of a quantized weight (ldo >= cols).
cudaError_t launch_dequant_half(GgmlType t, const WeightView& w, void* out, int64_t ldo,
                                cudaStream_t stream);

// out[i][cols] = row ids[i] of w as float; ids outside [0, rows) give zeros.
cudaError_t launch_get_rows(GgmlType t, const WeightView& w, const int32_t* ids, int64_t n,
                            float* out, cudaStream_t stream);

// out[i] = silu(gate[i]) * up[i].
cudaError_t launch_matmul_swiglu(const float* gate, const float* up, float* out, int64_t count,
                          cudaStream_t stream);

}  // namespace scn::inference::cuda
