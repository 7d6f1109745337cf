// Internal interface of the AMX (Advanced Matrix Extensions) path of the
// quantized matmul, used by MatmulRunner (matmul.cpp) for prompts (n ≥
// kAmxMinTokens) when amx_usable() (cpu_features.h). Only call these after
// that check: matmul_amx.cpp is compiled with -mamx-*.
//
// Method: each thread dequantizes a panel of 64 weight rows to bf16 (in the
// packed column order, decode_row_packed_avx512), then multiplies it
// with the bf16 activations 32 tokens at a time with TDPBF16PS (fp32
// accumulation in the tile registers). Weights and activations are rounded
// to bf16 (relative error ≤ 2^-9 each), so |Δy| ≤ Σ|w·x|·(2^-8 + 2^-18)
// plus fp32 accumulation error — inside the bound of the int8 path, whose
// per-block activation rounding is ≤ max|x_block|/254.
#pragma once

#include <cstdint>
#include <vector>

#include "inference/backend/cpu/packed_weight.h"

namespace scn::inference::cpu {

constexpr int64_t kAmxMinTokens = 16;

// Activations in the AMX B-operand layout: per tile of 16 tokens and step
// of 32 columns a 1 KiB tile [16 column pairs][16 tokens][2] of bf16;
// tokens past n and columns past cols are zero.
struct AmxAct {
  int64_t n = 0, cols = 0;
  int64_t tiles = 0;   // token tiles: ceil(n / 16)
  int64_t steps = 0;   // column steps: ceil(cols / 32)
  std::vector<uint16_t> b;  // tiles * steps * 512
  std::vector<int32_t> col; // column of each packed-order position (+ padding)
};

// Sizes a for n tokens of w and sets its column order.
void amx_prepare_act(const PackedWeight& w, int64_t n, AmxAct* a);
// Fills token tiles [tile0, tile1) of a from x[n][cols] (columns permuted
// to the weight's packed order).
void amx_pack_act(const float* x, int64_t tile0, int64_t tile1, AmxAct* a);
// y[t * ldy + r] for rows [r0, r1) and all n tokens of a (panels of 64 rows
// from r0). Uses thread-local scratch; configures this thread's tiles.
void amx_rows(const PackedWeight& w, const AmxAct& a, int64_t r0, int64_t r1, float* y,
              int64_t ldy);

}  // namespace scn::inference::cpu
