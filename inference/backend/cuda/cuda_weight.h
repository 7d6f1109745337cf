// Internal to backend/cuda: a weight in device memory, in the layout the
// kernels of backend/cuda read (see upload_weight in cuda_matmul.h).
//
// Device layouts (each array 256-byte aligned, every row 16-byte aligned so
// that a lane reads 16 aligned bytes at a time; "unit" = what one lane reads
// per step, see cuda_decode.cuh):
//   F32        q: [rows][ld] float, ld = cols rounded up to 8, zero padded
//   F16, BF16  q: [rows][ld] 16-bit, ld = cols rounded up to 8, zero padded
//   Q8_0       q: [rows][cols] int8 quants;      s: [rows][cols/32] half scales
//   Q4_0       q: [rows][cols/2] nibbles as in the GGUF block (qs[16] each);
//              s: [rows][cols/32] half scales
//   Q4_K       q: [rows][cols/256][128] qs;      s: [rows][cols/256][16] the
//              block header verbatim (d, dmin, scales[12])
//   Q6_K       q: [rows][cols/256][192] ql[128] then qh[64];
//              s: [rows][cols/256][16] int8 scales reordered so that unit v
//              (0..3) of a super-block finds its four scales at 4v..4v+3;
//              d: [rows][cols/256] half
// bytes() counts q + s + d: the bytes one pass over the weight reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "inference/backend/backend.h"

namespace scn::inference::cuda {

// What a kernel needs to read one weight (plain data, passed by value).
struct WeightView {
  const uint8_t* q = nullptr;
  const uint8_t* s = nullptr;
  const uint16_t* d = nullptr;
  int64_t q_stride = 0;  // bytes between rows of q
  int64_t s_stride = 0;  // bytes between rows of s
  int64_t d_stride = 0;  // halves between rows of d
  int64_t rows = 0, cols = 0;
  int64_t ld = 0;        // elements per row of q for F32/F16/BF16 (>= cols, multiple of 8)
  int32_t units = 0;     // units per row
};

class CudaWeight final : public Weight {
 public:
  CudaWeight(GgmlType type, int64_t rows, int64_t cols, void* mem, size_t bytes,
             const WeightView& view)
      : Weight(type, rows, cols), mem_(mem), bytes_(bytes), view_(view) {}
  ~CudaWeight() override;
  CudaWeight(const CudaWeight&) = delete;
  CudaWeight& operator=(const CudaWeight&) = delete;

  size_t bytes() const override { return bytes_; }
  const WeightView& view() const { return view_; }

 private:
  void* mem_;
  size_t bytes_;
  WeightView view_;
};

// A weight repacked on the host (what upload_weight copies): q (or, when no
// repacking is needed, q_direct = the source itself, q_bytes long), s, d.
struct HostLayout {
  std::vector<uint8_t> q, s, d;
  const void* q_direct = nullptr;
  size_t q_bytes = 0;
};
// Fills h and v (strides, units; pointers left null) for a supported type.
void repack_weight(GgmlType type, int64_t rows, int64_t cols, const void* data, HostLayout* h,
                   WeightView* v);

// Elements per unit of a type (the granularity of the matvec kernels).
int unit_elems(GgmlType t);
// True for the types upload_weight accepts.
bool weight_type_supported(GgmlType t);
// rows * cols of the largest quantized (dequantized-for-cuBLAS) weight
// uploaded so far in this process: sizes the gemm path's scratch up front.
int64_t max_dequant_elems();

}  // namespace scn::inference::cuda
