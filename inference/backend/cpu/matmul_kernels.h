// Internal interface between the matmul driver (matmul.cpp) and the
// per-instruction-set kernels (matmul_scalar.cpp, matmul_avx2.cpp,
// matmul_avx512.cpp). A kernel computes one tile of the output:
// y[t * ldy + r] for rows r in [r0, r1) and tokens t in [t0, t1), reading
// the packed weight and either the quantized (ActQ) or the float
// activations (x[t * cols]). Kernels never allocate and never fail.
#pragma once

#include <cstdint>

#include "inference/backend/cpu/packed_weight.h"

namespace scn::inference::cpu {

struct TileArgs {
  const PackedWeight* w;
  const ActQ* a;      // quantized weights
  const float* x;     // float weights
  float* y;
  int64_t ldy;
};

struct Kernels {
  void (*quant_tile)(const TileArgs&, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
  void (*float_tile)(const TileArgs&, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
  void (*quantize_act)(const PackedWeight& w, const float* x, int64_t t0, int64_t t1, ActQ* a);
};

const Kernels& scalar_kernels();
const Kernels& avx2_kernels();    // only on CPUs with AVX2/FMA/F16C
const Kernels& avx512_kernels();  // only on CPUs with AVX-512 F/BW/VL/DQ/VNNI

// The AVX-512 quantized matrix-vector kernel (a->n == 1): y[r] for rows r
// in [r0, r1), as quant_tile over token 0 (same products, sums in another
// order). AVX-512 CPUs only; avx512_kernels().quant_tile calls it when the
// activations hold one token.
void quant_gemv_avx512(const TileArgs& args, int64_t r0, int64_t r1);

// Row r of a quantized weight dequantized to floats in packed order: value
// (block b, element e) of group grp at block0*bs + (e/4)*4g + 4(b-block0) + e%4,
// the order of ActQ's int8 values (packed_order_columns gives the column of
// each position). AVX-512 CPUs only.
void decode_row_packed_avx512(const PackedWeight& w, int64_t r, float* out);
// cols entries: the column of each packed-order position.
void packed_order_columns(const PackedWeight& w, int32_t* col);

// Scalar helpers shared by the kernels: the float scale d_j, the
// correction c_j = m_j - offset * d_j and (if m is not null) the min m_j of
// the g blocks of a group (zeros past g), and the unsigned values of the
// group as u[j * bs + i].
void group_lane_scales(const QuantFormat& f, const uint8_t* gp, int g, float* d, float* c,
                       float* m = nullptr);
void group_values(const QuantFormat& f, const uint8_t* gp, int g, uint8_t* u);

}  // namespace scn::inference::cpu
