// Internal to backend/cuda: the weight half of the CUDA backend — uploading
// (and repacking) weights, and every product with them. The CudaBackend
// (cuda_backend.cpp) forwards prepare_weight, matmul*, rms_norm_matmul*,
// matmul_add and get_rows here.
//
// Contract:
//  - upload_weight(): copies a [rows][cols] matrix stored in `type` (GGUF row
//    layout) at host `data` into device memory once, possibly repacked into a
//    layout suited to the kernels (e.g. quants and scales in separate aligned
//    arrays). Never a full-precision copy of a quantized weight. Types: F32,
//    F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K (and any other the kernels learn);
//    kUnprocessable naming the type otherwise; kResourceExhausted when the
//    device memory runs out. bytes() is the device bytes one pass reads.
//  - MatmulRunner: all launches go to the stream given at create(); nothing
//    synchronises the host. x, ys, out are device pointers, float32 row-major.
//      matmul:  ys[i][n][ws[i].rows] (=, or += when accumulate) op(x)[n][cols] · ws[i]ᵀ
//               where op(x) = x, or rms_norm(x) * norm (norm != null, row-wise, eps).
//      matmul_swiglu: out[n][rows] = silu(op(x) · w_gateᵀ) * (op(x) · w_upᵀ).
//      get_rows: out[i][cols] = dequantized row ids[i] (ids on the device).
//    n <= kMaxVecRows takes custom matrix-vector kernels that dequantize in
//    registers and read each weight once for all n rows (decode); larger n
//    dequantizes the weight to half precision in a scratch buffer and calls
//    cuBLAS (prompts, big batches).
//  - Scratch buffers grow on demand; each growth increments generation(), and
//    the backend then drops its captured CUDA graphs (which hold pointers).
//    No allocation happens when the sizes were seen before.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/status.h"
#include "inference/backend/backend.h"

struct CUstream_st;

namespace scn::inference::cuda {

using Stream = CUstream_st*;

inline constexpr int64_t kMaxVecRows = 8;

Result<std::unique_ptr<Weight>> upload_weight(GgmlType type, int64_t rows, int64_t cols,
                                              const void* data, Stream stream);

class MatmulRunner {
 public:
  static Result<std::unique_ptr<MatmulRunner>> create(Stream stream);
  virtual ~MatmulRunner() = default;

  virtual void matmul(std::span<const Weight* const> ws, const float* x, int64_t n,
                      std::span<float* const> ys, const float* norm, float eps,
                      bool accumulate) = 0;
  virtual void matmul_swiglu(const Weight& w_gate, const Weight& w_up, const float* x,
                             int64_t n, const float* norm, float eps, float* out) = 0;
  virtual void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) = 0;
  virtual uint64_t generation() const = 0;
};

}  // namespace scn::inference::cuda
