// The CPU backend's weight layout. Float weights (F32/F16/BF16) are used in
// place. Quantized weights are repacked once at load into "lane groups":
// each row is cut into blocks of `bs` elements (32; 16 for Q6_K, whose
// scales are per 16) and the blocks into groups of up to 16. Inside a group,
// the stored values are interleaved 4 bytes at a time: chunk c (elements
// 4c..4c+3 of every block) is G runs of 4 bytes, block j's at 4j. One
// 512-bit vector of a chunk thus holds 4 values of each of 16 blocks, and a
// VNNI dot product (vpdpbusd) accumulates block j's dot product in int32
// lane j, so scales are applied once per 16 blocks, not once per block.
// Activations are quantized to int8 in the same order (ActQ).
//
// Every weight value is  w = d_j * (u - offset) + m_j  with u the stored
// unsigned value, d_j/m_j the scale and min of its block j:
//   Q8_0: u = q ^ 0x80 (offset 128)  Q4_0: offset 8    Q5_0: offset 16
//   Q4_1/Q5_1: m_j = block min      Q4_K/Q5_K: d_j = d*sc_j, m_j = -dmin*mn_j
//   Q6_K: d_j = d*sc_j, offset 32
// Group byte layout: scales, then value planes (see scale_bytes/plane_*).
// Scales are copied bit-exact from the GGUF blocks (fp16 stays fp16).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/status.h"
#include "inference/backend/backend.h"

namespace scn::inference::cpu {

enum class PackKind { kF32, kF16, kBF16, kQuant };
enum class ScaleKind {
  kD,   // fp16 d[G]
  kDM,  // fp16 d[G], fp16 m[G]
  kK4,  // u8 sc[G], u8 mn[G], fp16 d[G/8], fp16 dmin[G/8]   (G is 8 or 16)
  kK6,  // s8 sc[16], fp16 d                                  (G is 16)
};

struct QuantFormat {
  int bs = 32;      // elements per block (one int32 lane)
  int bits = 8;     // 8, 4, 5 (4 + a bit plane) or 6 (4 + a 2-bit plane)
  int offset = 0;   // subtracted from u
  ScaleKind scales = ScaleKind::kD;
  int chunks() const { return bs / 4; }
};

// Bytes of a group of g blocks, by section.
size_t scale_bytes(const QuantFormat& f, int g);
// Plane of low nibbles (bits 4/5/6): pairs of chunks, 4g bytes per pair,
// low nibble chunk 2p, high nibble chunk 2p+1. For bits == 8: the bytes.
size_t plane0_bytes(const QuantFormat& f, int g);
// bits 5: per chunk one uint64 whose bit 4j+b is bit 4 of value (j, b).
// bits 6: per quad of chunks 4g bytes; byte (j, b) holds bits 4-5 of chunk
// 4q+i's value (j, b) at bits 2i..2i+1.
size_t plane1_bytes(const QuantFormat& f, int g);

struct Group {
  int32_t g;        // blocks in the group (1..16)
  int32_t block0;   // first block of the group in the row
  int64_t offset;   // byte offset of the group in the row
};

class PackedWeight : public Weight {
 public:
  PackedWeight(GgmlType type, int64_t rows, int64_t cols) : Weight(type, rows, cols) {}
  size_t bytes() const override { return row_bytes_ * static_cast<size_t>(rows_); }

  PackKind kind() const { return kind_; }
  const QuantFormat& format() const { return fmt_; }
  const uint8_t* row(int64_t r) const { return data_ + row_bytes_ * static_cast<size_t>(r); }
  size_t row_bytes() const { return row_bytes_; }
  const std::vector<Group>& groups() const { return groups_; }
  int64_t blocks_per_row() const { return cols_ / fmt_.bs; }
  const void* original() const { return original_; }  // the GGUF data

 private:
  friend Result<std::unique_ptr<PackedWeight>> pack_weight(GgmlType, int64_t, int64_t,
                                                           const void*);
  PackKind kind_ = PackKind::kF32;
  QuantFormat fmt_;
  const uint8_t* data_ = nullptr;
  size_t row_bytes_ = 0;
  std::vector<Group> groups_;
  const void* original_ = nullptr;
  std::unique_ptr<uint8_t, void (*)(void*)> storage_{nullptr, nullptr};
};

// Repacks (or, for float types, wraps) rows × cols values of `type` at data.
Result<std::unique_ptr<PackedWeight>> pack_weight(GgmlType type, int64_t rows, int64_t cols,
                                                  const void* data);

// Activations quantized for one weight layout: per token, int8 values in
// the weight's group order (cols bytes), and per group 16 floats d (the
// block's scale) and 16 floats s = d * sum of the block's int8 values
// (lanes past g are 0). Blocks are bs elements, quantized with scale
// max|x|/127, so each value carries an absolute error ≤ max|x_block|/254.
struct ActQ {
  int64_t n = 0;
  int64_t q_stride = 0;   // bytes per token
  int64_t f_stride = 0;   // floats per token in d and s (16 per group)
  std::vector<int8_t> q;   // n * q_stride (padded: kernels read whole vectors)
  std::vector<float> d, s;
  const int8_t* q_row(int64_t t) const { return q.data() + t * q_stride; }
  const float* d_row(int64_t t) const { return d.data() + t * f_stride; }
  const float* s_row(int64_t t) const { return s.data() + t * f_stride; }
};

// Scalar activation quantization (the SIMD paths produce identical output).
void quantize_act_scalar(const PackedWeight& w, const float* x, int64_t t0, int64_t t1,
                         ActQ* a);
void resize_act(const PackedWeight& w, int64_t n, ActQ* a);

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while ((man & 0x400) == 0) { man <<= 1; --exp; }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint16_t load_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }

}  // namespace scn::inference::cpu
