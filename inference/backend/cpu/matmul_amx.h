// Internal interface of the AMX (Advanced Matrix Extensions) path of the
// quantized matmul, used by MatmulRunner (matmul.cpp) for prompts (n ≥
// kAmxMinTokens) when amx_usable() (cpu_features.h). Only call these after
// that check: matmul_amx.cpp is compiled with -mamx-*.
//
// Method: the activations are the A operand (16 tokens x 32 columns per
// tile, packed once per call) and the weights the B operand, so that a C
// tile is 16 tokens x 16 weight rows and goes to y with one tile store.
// Each thread decodes a panel of up to 128 weight rows to bf16 B tiles
// (pairs of columns per 32-bit lane, 16 rows side by side; each tile a
// contiguous 1 KiB): Q4_0 straight from the GGUF blocks, a block's 16 qs
// bytes of 16 rows transposed with VPERMT2B and each byte's two nibbles
// (columns i and i + 16 of the block) one lane; the other types decoded
// row by row (Q8_0 from the GGUF blocks, the rest in the packed column
// order through decode_row_packed_avx512) and transposed 16 x 16 lanes.
// The panel is then multiplied with the activations 32 tokens x 32 rows at
// a time with TDPBF16PS (fp32 accumulation in the tile registers), in
// column chunks of 1024 so that a pair of token tiles' A tiles is read
// from L3 once per panel and chunk and reused from L1/L2 by every pair of
// B tiles (partial sums stored between chunks). All tile operands are
// 64-byte aligned (a tile row across two cache lines halves TILELOADD's
// rate); outputs of 4 MiB and more leave through streaming stores (their
// lines are not cached anyway). amx_rows_swiglu pairs the B tiles of the
// gate and up projections and writes silu(gate) * up from their C tiles.
// Measured on this machine (one thread, 512 tokens, best of many): 1.4-1.9x
// the earlier weights-as-A kernel (whose C tiles needed a transpose on the
// way out and whose buffers sat 16 bytes off the cache lines) on Q4_0,
// Q8_0 and Q4_K products of 1536 x 1536 and 8960 x 1536.
// Weights and activations are rounded
// to bf16 (relative error ≤ 2^-9 each), so |Δy| ≤ Σ|w·x|·(2^-8 + 2^-18)
// plus fp32 accumulation error — inside the bound of the int8 path, whose
// per-block activation rounding is ≤ max|x_block|/254.
#pragma once

#include <cstdint>
#include <vector>

#include "inference/backend/cpu/amx_tile_config.h"
#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/packed_weight.h"

namespace scn::inference::cpu {

constexpr int64_t kAmxMinTokens = 16;

// Column order of the packed activations (each 32-bit lane of a tile row
// holds a pair of columns): kNatural pairs (2i, 2i+1), kHalves pairs (i,
// i + 16) of each 32-column block (Q4_0 from the GGUF blocks: a qs byte's
// two nibbles), kPacked pairs (2i, 2i+1) of the weight's packed order.
enum class AmxColOrder { kNatural, kHalves, kPacked };

// Activations in the AMX A-operand layout: per tile of 16 tokens and step
// of 32 columns a 1 KiB tile [16 tokens][32 bf16]; tokens past n and
// columns past cols are zero.
struct AmxAct {
  int64_t n = 0, cols = 0;
  int64_t tiles = 0;   // token tiles: ceil(n / 16)
  int64_t steps = 0;   // column steps: ceil(cols / 32)
  AmxVector<uint16_t> b;     // tiles * steps * 512
  std::vector<int32_t> col;  // kPacked: column of each packed-order position (+ padding)
  AmxColOrder order = AmxColOrder::kNatural;
};

// The column order amx_prepare_act gives w's activations.
AmxColOrder amx_col_order(const PackedWeight& w);
// Sizes a for n tokens of w and sets its column order: kHalves for Q4_0
// and kNatural for Q8_0 weights with their GGUF data (amx_rows decodes
// those rows straight from the blocks), else kPacked.
void amx_prepare_act(const PackedWeight& w, int64_t n, AmxAct* a);
// Fills token tiles [tile0, tile1) of a from x[n][cols] (columns in a's
// order).
void amx_pack_act(const float* x, int64_t tile0, int64_t tile1, AmxAct* a);
// y[t * ldy + r] for rows [r0, r1) and all n tokens of a (panels of 128 rows
// from r0). Uses thread-local scratch; configures this thread's tiles.
void amx_rows(const PackedWeight& w, const AmxAct& a, int64_t r0, int64_t r1, float* y,
              int64_t ldy);
// y[t * ldy + r] = silu(gate_t,r) * up_t,r for rows [r0, r1) of gate and up
// (same shape and column order as a) and all n tokens of a: panels of 64
// rows of each, the SwiGLU applied to the C tiles on their way out.
void amx_rows_swiglu(const PackedWeight& gate, const PackedWeight& up, const AmxAct& a,
                     int64_t r0, int64_t r1, float* y, int64_t ldy);

// ---- int8 tiles for Q8_0 and a few tokens (matmul_q8_amx.cpp) --------------
// Decode steps of several sequences (2 ≤ n ≤ kAmxQ8MaxTokens) on Q8_0
// weights: TDPBSSD multiplies 16 weight rows, read in place from the GGUF
// blocks (PackedWeight::original()), with the int8 activations of all n
// tokens, one 32-element block per tile product; the int32 tile is scaled
// by d_w * d_a into fp32 accumulators. Each weight byte is read once per
// call whatever n is. The activations are quantized per block of 32 as
// ActQ does (scale max|x|/127, round to nearest even), so the result is the
// int8 path's up to fp32 summation order, within the same error bound.
constexpr int64_t kAmxQ8MaxTokens = 15;

// Activations in the B-operand layout: per block j a tile of 8 rows x n
// tokens x 4 bytes (elements 4kk..4kk+3 of token t at row kk, bytes 4t..),
// and per block 16 floats d (the tokens' scales; lanes past n zero).
struct AmxQ8Act {
  int64_t n = 0, cols = 0, blocks = 0;
  std::vector<int8_t> b;  // blocks * 32 * n
  std::vector<float> d;   // blocks * 16
};

// Whether amx_q8_rows can compute w for n tokens: Q8_0, 2 ≤ n ≤
// kAmxQ8MaxTokens, rows a multiple of 16, and amx_int8_usable().
bool amx_q8_applicable(const PackedWeight& w, int64_t n);
// Sizes a for n tokens of cols columns (zeroes the scales).
void amx_q8_prepare_act(int64_t n, int64_t cols, AmxQ8Act* a);
// Quantizes tokens [t0, t1) of x[n][cols] into a.
void amx_q8_quantize_act(const float* x, int64_t t0, int64_t t1, AmxQ8Act* a);
// y[t * ldy + r] for rows [r0, r1) (multiples of 16) and all n tokens of a.
void amx_q8_rows(const PackedWeight& w, const AmxQ8Act& a, int64_t r0, int64_t r1, float* y,
                 int64_t ldy);

// ---- int8 tiles for Q4_0, Q4_K and Q8_0 (matmul_i8_amx.cpp) ---------------
// Products of n ≥ 2 tokens on Q4_0, Q4_K (and Q8_0) weights read in place
// from the GGUF blocks (PackedWeight::original()): per panel of 16 weight
// rows, blocks of 32 columns are unpacked to int8 B tiles (VNNI layout) and
// multiplied by TDPBSSD with the int8 activations of up to 16 tokens (the A
// tile); each block's int32 tile is scaled by d_w * d_a (minus the Q4_K
// mins times d_a * Σq_a) into fp32 accumulators. Each weight byte is read
// once per call whatever n is, and the per-block work grows with the
// tokens of the tile only. The activations are quantized per block of 32
// as ActQ does (scale max|x|/127, round to nearest even), so the result is
// the int8 path's up to fp32 summation order, within the same error bound.
// Measured on this machine (CPU time per product of 4864 x 896 and 896 x
// 4864, one thread): for Q4_0 and Q4_K the int8 tiles cost less than the
// VNNI path from 4 tokens (about 2x at 8, 3x at 15); for Q8_0 amx_q8_rows
// is faster for 2..15 tokens. For prompts they cost about as much as the
// bf16 tiles per product and a little more in the whole model (the per-block
// scaling on AVX-512 and the tile stores outweigh TDPBSSD's doubled rate),
// so prompts stay on amx_rows.
constexpr int64_t kAmxI8MinTokens = 4;

struct AmxI8Act {
  int64_t n = 0, cols = 0, blocks = 0;
  int64_t width = 0;  // tokens per tile: min(n, 16)
  int64_t tiles = 0;  // ceil(n / 16); for n > 16 the last is padded with zeros
  bool mins = false;  // Q4_K: s holds d * Σq per token and block
  AmxVector<int8_t> q;    // [tile][block][width tokens][32]: the A tiles (64-byte aligned)
  std::vector<float> d;   // [tile][block][16 tokens]
  std::vector<float> s;   // [tile][block][16 tokens] (mins only)
};

// Whether amx_i8_rows can compute w for n tokens: Q4_0, Q4_K or Q8_0, n ≥ 2,
// and amx_int8_usable(). Any row count (partial panels are masked).
bool amx_i8_applicable(const PackedWeight& w, int64_t n);
// Whether MatmulRunner takes the int8 tiles for w and n tokens: applicable,
// Q4_0 or Q4_K, and kAmxI8MinTokens ≤ n < kAmxMinTokens.
bool amx_i8_preferred(const PackedWeight& w, int64_t n);
// Sizes a for n tokens of w (zeroes the padding tokens).
void amx_i8_prepare_act(const PackedWeight& w, int64_t n, AmxI8Act* a);
// Quantizes tokens [t0, t1) of x[n][cols] into a.
void amx_i8_quantize_act(const float* x, int64_t t0, int64_t t1, AmxI8Act* a);
// y[t * ldy + r] for rows [r0, r1) (any; panels of 16 rows from r0, the
// last one masked) and all n tokens of a. Configures this thread's tiles.
void amx_i8_rows(const PackedWeight& w, const AmxI8Act& a, int64_t r0, int64_t r1, float* y,
                 int64_t ldy);

}  // namespace scn::inference::cpu
