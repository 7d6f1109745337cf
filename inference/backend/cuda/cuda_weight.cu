// upload_weight: repacks a GGUF weight on the host into the device layout of
// cuda_weight.h and copies it to the GPU once.
#include "inference/backend/cuda/cuda_weight.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "inference/backend/cuda/cuda_matmul.h"

namespace scn::inference::cuda {

using common::log_error;
using common::str_cat;
namespace {

std::atomic<int64_t> g_max_dequant_elems{0};

constexpr int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

size_t align256(size_t v) { return (v + 255) & ~static_cast<size_t>(255); }

void repack_float(GgmlType t, int64_t rows, int64_t cols, const void* data, HostLayout* h,
                  WeightView* v) {
  const size_t es = t == GgmlType::F32 ? 4 : 2;
  v->ld = round_up(cols, 8);
  v->units = static_cast<int32_t>(v->ld / unit_elems(t));
  v->q_stride = v->ld * static_cast<int64_t>(es);
  h->q_bytes = static_cast<size_t>(rows) * static_cast<size_t>(v->q_stride);
  if (v->ld == cols) {
    h->q_direct = data;
    return;
  }
  h->q.assign(h->q_bytes, 0);
  const auto* src = static_cast<const uint8_t*>(data);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(h->q.data() + r * v->q_stride, src + r * cols * static_cast<int64_t>(es),
                static_cast<size_t>(cols) * es);
}

// Q8_0 (34-byte blocks: half d, int8 qs[32]) and Q4_0 (18: half d, qs[16]).
void repack_legacy(GgmlType t, int64_t rows, int64_t cols, const void* data, HostLayout* h,
                   WeightView* v) {
  const int64_t nb = cols / 32;
  const int64_t qb = t == GgmlType::Q8_0 ? 32 : 16;  // quant bytes per block
  const int64_t bs = 2 + qb;
  v->q_stride = nb * qb;
  v->s_stride = nb * 2;
  v->units = static_cast<int32_t>(t == GgmlType::Q8_0 ? nb * 2 : nb);
  h->q.resize(static_cast<size_t>(rows * v->q_stride));
  h->s.resize(static_cast<size_t>(rows * v->s_stride));
  h->q_bytes = h->q.size();
  const auto* src = static_cast<const uint8_t*>(data);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = src + r * nb * bs;
    uint8_t* q = h->q.data() + r * v->q_stride;
    uint8_t* s = h->s.data() + r * v->s_stride;
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(s + 2 * b, row + b * bs, 2);
      std::memcpy(q + b * qb, row + b * bs + 2, static_cast<size_t>(qb));
    }
  }
}

// Q4_K: 144-byte super-blocks {half d, half dmin, scales[12], qs[128]}.
void repack_q4k(int64_t rows, int64_t cols, const void* data, HostLayout* h, WeightView* v) {
  const int64_t nsb = cols / 256;
  v->q_stride = nsb * 128;
  v->s_stride = nsb * 16;
  v->units = static_cast<int32_t>(nsb * 8);
  h->q.resize(static_cast<size_t>(rows * v->q_stride));
  h->s.resize(static_cast<size_t>(rows * v->s_stride));
  h->q_bytes = h->q.size();
  const auto* src = static_cast<const uint8_t*>(data);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nsb; ++b) {
      const uint8_t* blk = src + (r * nsb + b) * 144;
      std::memcpy(h->s.data() + r * v->s_stride + b * 16, blk, 16);
      std::memcpy(h->q.data() + r * v->q_stride + b * 128, blk + 16, 128);
    }
}

// Q6_K: 210-byte super-blocks {ql[128], qh[64], int8 scales[16], half d}.
void repack_q6k(int64_t rows, int64_t cols, const void* data, HostLayout* h, WeightView* v) {
  const int64_t nsb = cols / 256;
  v->q_stride = nsb * 192;
  v->s_stride = nsb * 16;
  v->d_stride = nsb;
  v->units = static_cast<int32_t>(nsb * 4);
  h->q.resize(static_cast<size_t>(rows * v->q_stride));
  h->s.resize(static_cast<size_t>(rows * v->s_stride));
  h->d.resize(static_cast<size_t>(rows * nsb * 2));
  h->q_bytes = h->q.size();
  const auto* src = static_cast<const uint8_t*>(data);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nsb; ++b) {
      const uint8_t* blk = src + (r * nsb + b) * 210;
      std::memcpy(h->q.data() + r * v->q_stride + b * 192, blk, 192);
      uint8_t* sc = h->s.data() + r * v->s_stride + b * 16;
      // Unit v = 2h + (l0/16) uses scales[8h + (v & 1) + 2m], m = 0..3.
      for (int u = 0; u < 4; ++u)
        for (int m = 0; m < 4; ++m) sc[4 * u + m] = blk[192 + 8 * (u / 2) + (u & 1) + 2 * m];
      std::memcpy(h->d.data() + (r * nsb + b) * 2, blk + 208, 2);
    }
}

}  // namespace

CudaWeight::~CudaWeight() {
  if (mem_) cudaFree(mem_);
}

void repack_weight(GgmlType type, int64_t rows, int64_t cols, const void* data, HostLayout* h,
                   WeightView* v) {
  *v = WeightView{};
  v->rows = rows;
  v->cols = cols;
  v->ld = cols;
  switch (type) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
      repack_float(type, rows, cols, data, h, v);
      break;
    case GgmlType::Q8_0: case GgmlType::Q4_0: repack_legacy(type, rows, cols, data, h, v); break;
    case GgmlType::Q4_K: repack_q4k(rows, cols, data, h, v); break;
    case GgmlType::Q6_K: repack_q6k(rows, cols, data, h, v); break;
    default: break;
  }
}

int unit_elems(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: case GgmlType::BF16: return 8;
    case GgmlType::Q8_0: return 16;
    case GgmlType::Q4_0: return 32;
    case GgmlType::Q4_K: return 32;
    case GgmlType::Q6_K: return 64;
    default: return 0;
  }
}

bool weight_type_supported(GgmlType t) { return unit_elems(t) != 0; }

int64_t max_dequant_elems() { return g_max_dequant_elems.load(); }

Result<std::unique_ptr<Weight>> upload_weight(GgmlType type, int64_t rows, int64_t cols,
                                              const void* data, Stream stream) {
  if (!weight_type_supported(type))
    return Status::unprocessable(str_cat("the CUDA backend cannot compute with weights of type ",
                                         type_name(type)));
  if (rows <= 0 || cols <= 0 || data == nullptr)
    return Status::invalid_argument(str_cat("upload_weight: bad shape ", rows, "x", cols));
  if (cols % block_size(type) != 0)
    return Status::invalid_argument(str_cat("upload_weight: ", cols, " columns is not a multiple of ",
                                            block_size(type), " (", type_name(type), ")"));
  if (rows > (int64_t{1} << 31) - 1 || cols > (int64_t{1} << 28))
    return Status::invalid_argument(str_cat("upload_weight: shape too large ", rows, "x", cols));

  WeightView v;
  HostLayout h;
  repack_weight(type, rows, cols, data, &h, &v);
  const size_t s_off = align256(h.q_bytes);
  const size_t d_off = s_off + align256(h.s.size());
  const size_t total = d_off + h.d.size();
  void* mem = nullptr;
  if (cudaError_t e = cudaMalloc(&mem, total); e != cudaSuccess) {
    cudaGetLastError();  // clear the (non-sticky) allocation error
    return Status::exhausted(str_cat("cannot allocate ", total, " bytes of device memory for a ",
                                     rows, "x", cols, " ", type_name(type), " weight: ",
                                     cudaGetErrorString(e)));
  }
  auto* base = static_cast<uint8_t*>(mem);
  cudaError_t e = cudaMemcpyAsync(base, h.q_direct ? h.q_direct : h.q.data(), h.q_bytes,
                                  cudaMemcpyHostToDevice, stream);
  if (e == cudaSuccess && !h.s.empty())
    e = cudaMemcpyAsync(base + s_off, h.s.data(), h.s.size(), cudaMemcpyHostToDevice, stream);
  if (e == cudaSuccess && !h.d.empty())
    e = cudaMemcpyAsync(base + d_off, h.d.data(), h.d.size(), cudaMemcpyHostToDevice, stream);
  // The host arrays die with this call: wait for the copies.
  if (cudaError_t se = cudaStreamSynchronize(stream); e == cudaSuccess) e = se;
  if (e != cudaSuccess) {
    cudaFree(mem);
    return Status::internal(str_cat("uploading a ", type_name(type), " weight: ",
                                    cudaGetErrorString(e)));
  }
  v.q = base;
  v.s = h.s.empty() ? nullptr : base + s_off;
  v.d = h.d.empty() ? nullptr : reinterpret_cast<const uint16_t*>(base + d_off);
  const size_t bytes = h.q_bytes + h.s.size() + h.d.size();
  if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::BF16) {
    int64_t prev = g_max_dequant_elems.load();
    const int64_t elems = rows * cols;
    while (prev < elems && !g_max_dequant_elems.compare_exchange_weak(prev, elems)) {
    }
  }
  return std::unique_ptr<Weight>(new CudaWeight(type, rows, cols, mem, bytes, v));
}

}  // namespace scn::inference::cuda
