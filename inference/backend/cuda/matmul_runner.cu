// MatmulRunner (cuda_matmul.h): chooses between the matrix-vector kernels
// (n <= kMaxVecRows) and cuBLAS (larger n), owns the scratch buffers and the
// cuBLAS handle.
//
// n > 8 path: x is prepared (rms_norm when asked) into half (F16 and the
// quantized types) or bfloat16 (BF16 weights: activations can exceed the
// half range, bf16 keeps the float range) and multiplied with cublasGemmEx,
// fp32 accumulation and fp32 output (beta = 1 accumulates). Quantized
// weights are first dequantized to half in one scratch buffer (their values
// are small: |d * q| stays far below the half range for real models; a
// weight beyond 65504 would become inf — the same limit as llama.cpp's
// dequantize-to-f16 cuBLAS path). F32 weights use cublasSgemm in pedantic
// math mode (no TF32), so results match the CPU to float rounding.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "inference/backend/cuda/cuda_common.h"
#include "inference/backend/cuda/cuda_matmul.h"
#include "inference/backend/cuda/cuda_weight.h"
#include "inference/backend/cuda/matmul_kernels.h"

namespace scn::inference::cuda {

using common::log_error;
using common::str_cat;
namespace {

constexpr size_t kCublasWorkspace = size_t{32} << 20;  // cuBLAS' advice for Hopper

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

const CudaWeight& cw(const Weight& w) { return static_cast<const CudaWeight&>(w); }

class Runner final : public MatmulRunner {
 public:
  Runner(cudaStream_t stream, cublasHandle_t blas, void* workspace)
      : stream_(stream), blas_(blas), workspace_(workspace) {}

  ~Runner() override {
    cudaStreamSynchronize(stream_);
    for (Scratch* s : {&x_, &xh_, &xb_, &w_, &gate_, &up_}) s->release();
    for (void* p : retired_) cudaFree(p);
    if (blas_) cublasDestroy(blas_);
    if (workspace_) cudaFree(workspace_);
  }

  void matmul(std::span<const Weight* const> ws, const float* x, int64_t n,
              std::span<float* const> ys, const float* norm, float eps,
              bool accumulate) override {
    if (ws.empty() || n <= 0 || ws.size() != ys.size()) return;
    for (const Weight* w : ws)
      if (w->cols() != ws[0]->cols())  // x is [n][cols]: a caller bug, not an input
        cuda_fatal(cudaErrorInvalidValue, str_cat("cuda matmul: weights of one call differ in cols (",
                                                  w->cols(), " vs ", ws[0]->cols(), ")"));
    if (n <= kMaxVecRows)
      matvec(ws, x, n, ys, norm, eps, accumulate);
    else
      gemm(ws, x, n, ys, norm, eps, accumulate);
  }

  void matmul_swiglu(const Weight& w_gate, const Weight& w_up, const float* x, int64_t n,
                     const float* norm, float eps, float* out) override {
    if (n <= 0) return;
    const int64_t rows = w_gate.rows();
    if (w_up.rows() != rows || w_up.cols() != w_gate.cols())  // a caller bug
      cuda_fatal(cudaErrorInvalidValue, str_cat("cuda matmul_swiglu: gate ", rows, "x", w_gate.cols(),
                                                " and up ", w_up.rows(), "x", w_up.cols(), " differ"));
    if (n <= kMaxVecRows && w_gate.type() == w_up.type()) {
      const auto [xp, ldx] = vec_input(x, n, w_gate.cols(), norm, eps);
      if (!xp) return;
      MatvecParams p;
      p.nseg = 2;
      p.seg[0] = {cw(w_gate).view(), nullptr, 0};
      p.seg[1] = {cw(w_up).view(), nullptr, 0};
      p.total_rows = rows;
      p.x = xp;
      p.ldx = ldx;
      p.mode = MatvecMode::kSwiglu;
      p.out = out;
      check(launch_matvec(w_gate.type(), p, static_cast<int>(n), stream_), "matvec swiglu");
      return;
    }
    const size_t bytes = static_cast<size_t>(n * rows) * sizeof(float);
    auto* g = static_cast<float*>(gate_.ensure(bytes, this));
    auto* u = static_cast<float*>(up_.ensure(bytes, this));
    if (!g || !u) return;
    const Weight* ws[] = {&w_gate, &w_up};
    float* ys[] = {g, u};
    matmul(ws, x, n, ys, norm, eps, false);
    check(launch_matmul_swiglu(g, u, out, n * rows, stream_), "swiglu");
  }

  void get_rows(const Weight& w, const int32_t* ids, int64_t n, float* out) override {
    check(launch_get_rows(w.type(), cw(w).view(), ids, n, out, stream_), "get_rows");
  }

  uint64_t generation() const override { return generation_; }

 private:
  // A device buffer that grows on demand. Outgrown buffers are freed at once
  // unless the stream is being captured (a graph may still reference them):
  // then they are kept until the runner dies.
  struct Scratch {
    void* p = nullptr;
    size_t cap = 0;
    void* ensure(size_t bytes, Runner* r) {
      if (bytes <= cap) return p;
      const size_t want = std::max(bytes, cap + cap / 2);
      void* np = nullptr;
      if (cudaError_t e = cudaMalloc(&np, want); e != cudaSuccess)
        cuda_fatal(e, str_cat("cuda matmul: cannot allocate ", want, " bytes of scratch"));
      if (p) r->retire(p);
      p = np;
      cap = want;
      ++r->generation_;
      return p;
    }
    void release() {
      if (p) cudaFree(p);
      p = nullptr;
      cap = 0;
    }
  };

  void retire(void* p) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream_, &st) == cudaSuccess && st == cudaStreamCaptureStatusNone) {
      cudaStreamSynchronize(stream_);  // earlier launches may still read it
      cudaFree(p);
    } else {
      retired_.push_back(p);
    }
  }

  // Errors inside ops are fatal (cuda_backend.h): the ops return void and a
  // failed launch leaves the results undefined.
  static bool check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) cuda_fatal(e, str_cat("cuda matmul: ", what));
    return true;
  }
  static bool check_blas(cublasStatus_t s, const char* what) {
    if (s == CUBLAS_STATUS_SUCCESS) return true;
    log_error("cuda matmul: ", what, ": ", cublasGetStatusString(s));
    cuda_fatal(cudaErrorUnknown, str_cat("cuda matmul: ", what, ": ", cublasGetStatusString(s)));
  }

  // x as the matvec kernels read it: [n][ldx] float, 16-byte aligned, ldx a
  // multiple of 8, zero padded, normalised when norm is set.
  std::pair<const float*, int64_t> vec_input(const float* x, int64_t n, int64_t cols,
                                             const float* norm, float eps) {
    const bool direct = !norm && cols % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
    if (direct) return {x, cols};
    const int64_t ldx = round_up(cols, 8);
    auto* xs = static_cast<float*>(x_.ensure(static_cast<size_t>(n * ldx) * sizeof(float), this));
    if (!xs) return {nullptr, 0};
    if (!check(launch_prep_x(x, n, cols, norm, eps, GgmlType::F32, xs, ldx, stream_), "prep x"))
      return {nullptr, 0};
    return {xs, ldx};
  }

  void matvec(std::span<const Weight* const> ws, const float* x, int64_t n,
              std::span<float* const> ys, const float* norm, float eps, bool accumulate) {
    const auto [xp, ldx] = vec_input(x, n, ws[0]->cols(), norm, eps);
    if (!xp) return;
    // One launch per type (up to kMaxSegs weights each), over their rows concatenated.
    std::vector<bool> done(ws.size(), false);
    for (size_t i = 0; i < ws.size(); ++i) {
      if (done[i]) continue;
      const GgmlType t = ws[i]->type();
      MatvecParams p;
      p.x = xp;
      p.ldx = ldx;
      p.mode = accumulate ? MatvecMode::kAccumulate : MatvecMode::kStore;
      for (size_t j = i; j < ws.size() && p.nseg < kMaxSegs; ++j) {
        if (done[j] || ws[j]->type() != t) continue;
        done[j] = true;
        p.seg[p.nseg++] = {cw(*ws[j]).view(), ys[j], p.total_rows};
        p.total_rows += ws[j]->rows();
      }
      check(launch_matvec(t, p, static_cast<int>(n), stream_), "matvec");
    }
  }

  // x converted (and normalised) for a gemm with a weight of type t.
  std::pair<const void*, int64_t> gemm_input(GgmlType t, const float* x, int64_t n, int64_t cols,
                                             const float* norm, float eps) {
    const int64_t ldx = round_up(cols, 8);
    if (t == GgmlType::F32) {
      if (!norm) return {x, cols};
      auto* xs = x_.ensure(static_cast<size_t>(n * ldx) * 4, this);
      if (!xs || !check(launch_prep_x(x, n, cols, norm, eps, GgmlType::F32, xs, ldx, stream_), "prep x"))
        return {nullptr, 0};
      return {xs, ldx};
    }
    const GgmlType kind = t == GgmlType::BF16 ? GgmlType::BF16 : GgmlType::F16;
    Scratch& s = kind == GgmlType::BF16 ? xb_ : xh_;
    void* xs = s.ensure(static_cast<size_t>(n * ldx) * 2, this);
    if (!xs || !check(launch_prep_x(x, n, cols, norm, eps, kind, xs, ldx, stream_), "prep x"))
      return {nullptr, 0};
    return {xs, ldx};
  }

  void gemm(std::span<const Weight* const> ws, const float* x, int64_t n,
            std::span<float* const> ys, const float* norm, float eps, bool accumulate) {
    const int64_t cols = ws[0]->cols();
    // Convert x once per activation kind.
    std::pair<const void*, int64_t> xin[3] = {};  // F32, F16, BF16
    bool have[3] = {false, false, false};
    const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
    for (size_t i = 0; i < ws.size(); ++i) {
      const Weight& w = *ws[i];
      const WeightView& v = cw(w).view();
      const GgmlType t = w.type();
      const int k = t == GgmlType::F32 ? 0 : t == GgmlType::BF16 ? 2 : 1;
      if (!have[k]) {
        xin[k] = gemm_input(t, x, n, cols, norm, eps);
        have[k] = true;
      }
      if (!xin[k].first) return;
      const int m = static_cast<int>(w.rows()), nn = static_cast<int>(n), kk = static_cast<int>(cols);
      const int ldb = static_cast<int>(xin[k].second);
      if (t == GgmlType::F32) {
        if (!check_blas(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode")) return;
        check_blas(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, m, nn, kk, &alpha,
                               reinterpret_cast<const float*>(v.q), static_cast<int>(v.ld),
                               static_cast<const float*>(xin[k].first), ldb, &beta, ys[i], m),
                   "cublasSgemm");
        continue;
      }
      const void* a = v.q;
      int lda = static_cast<int>(v.ld);
      cudaDataType at = t == GgmlType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
      if (t != GgmlType::F16 && t != GgmlType::BF16) {
        const size_t need = static_cast<size_t>(std::max(max_dequant_elems(), w.rows() * cols)) * 2;
        void* wb = w_.ensure(need, this);
        if (!wb || !check(launch_dequant_half(t, v, wb, cols, stream_), "dequantize")) return;
        a = wb;
        lda = kk;
      }
      if (!check_blas(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode")) return;
      check_blas(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, m, nn, kk, &alpha, a, at, lda,
                              xin[k].first, at, ldb, &beta, ys[i], CUDA_R_32F, m,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
    }
  }

  cudaStream_t stream_;
  cublasHandle_t blas_;
  void* workspace_;
  Scratch x_, xh_, xb_, w_, gate_, up_;
  std::vector<void*> retired_;
  uint64_t generation_ = 0;
};

}  // namespace

Result<std::unique_ptr<MatmulRunner>> MatmulRunner::create(Stream stream) {
  cublasHandle_t blas = nullptr;
  if (cublasStatus_t s = cublasCreate(&blas); s != CUBLAS_STATUS_SUCCESS)
    return Status::unavailable(str_cat("cublasCreate: ", cublasGetStatusString(s)));
  void* ws = nullptr;
  if (cudaError_t e = cudaMalloc(&ws, kCublasWorkspace); e != cudaSuccess) {
    cudaGetLastError();
    cublasDestroy(blas);
    return Status::exhausted(str_cat("cuBLAS workspace: ", cudaGetErrorString(e)));
  }
  // The stream is set once: cublasSetStream() would reset the workspace to
  // cuBLAS' own pool (which allocates, breaking stream capture).
  cublasStatus_t s = cublasSetStream(blas, stream);
  if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetWorkspace(blas, ws, kCublasWorkspace);
  if (s != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(blas);
    cudaFree(ws);
    return Status::internal(str_cat("cuBLAS setup: ", cublasGetStatusString(s)));
  }
  return std::unique_ptr<MatmulRunner>(new Runner(stream, blas, ws));
}

}  // namespace scn::inference::cuda
