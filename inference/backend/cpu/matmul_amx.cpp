// AMX path of the quantized matmul (see matmul_amx.h): bf16 tiles,
// TDPBF16PS, a 2 x 2 register block of 32 weight rows x 32 tokens, over
// panels of 64 rows decoded once to bf16 and kept in L2.
#include "inference/backend/cpu/matmul_amx.h"

#include <immintrin.h>

// GCC 12's own reduce/undefined intrinsics trip these warnings.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "inference/backend/cpu/matmul_kernels.h"
#include "inference/backend/cpu/amx_tile_config.h"

namespace scn::inference::cpu {
namespace {

constexpr int kPanel = 64;  // weight rows per panel (pairs of A tiles)

// Tiles 0-3: C (16 x 16 fp32), 4-5: A (weight rows), 6-7: B (tokens); all
// 16 rows of 64 bytes.
void configure_tiles() {
  AmxTileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  _tile_loadconfig(&cfg);
}

// 32 floats -> 32 bf16 (round to nearest even), as 16 dwords of pairs.
inline __m512i to_bf16_pairs(const float* x, int64_t avail) {
  const __mmask16 m0 = avail >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << std::max<int64_t>(avail, 0)) - 1);
  const int64_t a1 = avail - 16;
  const __mmask16 m1 = a1 >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << std::max<int64_t>(a1, 0)) - 1);
  const __m512 lo = _mm512_maskz_loadu_ps(m0, x);
  const __m512 hi = _mm512_maskz_loadu_ps(m1, x + 16);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

struct Scratch {
  std::vector<float> row;
  std::vector<uint16_t> panel;   // [kPanel][steps * 32] bf16
  alignas(64) float c[4][16][16];
};

thread_local Scratch tls;

void store_tile_out(const float (*c)[16], int64_t r0, int64_t nr, int64_t t0, int64_t nt,
                    float* y, int64_t ldy) {
  // c[i][j]: weight row r0 + i, token t0 + j.
  for (int64_t j = 0; j < nt; ++j) {
    float* yt = y + (t0 + j) * ldy + r0;
    for (int64_t i = 0; i < nr; ++i) yt[i] = c[i][j];
  }
}

}  // namespace

void amx_prepare_act(const PackedWeight& w, int64_t n, AmxAct* a) {
  const int64_t cols = w.cols();
  a->n = n;
  a->cols = cols;
  a->tiles = (n + 15) / 16;
  a->steps = (cols + 31) / 32;
  const size_t need = static_cast<size_t>(a->tiles * a->steps * 512);
  if (a->b.size() < need) a->b.resize(need);
  a->col.assign(a->steps * 32, 0);
  packed_order_columns(w, a->col.data());
}

void amx_pack_act(const float* x, int64_t tile0, int64_t tile1, AmxAct* a) {
  const int64_t cols = a->cols, steps = a->steps;
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                           12, 13, 14, 15),
                                         _mm512_set1_epi32(16));
  for (int64_t tt = tile0; tt < tile1; ++tt) {
    uint16_t* tb = a->b.data() + tt * steps * 512;
    for (int64_t j = 0; j < 16; ++j) {
      const int64_t t = tt * 16 + j;
      const float* xt = x + t * cols;
      for (int64_t s = 0; s < steps; ++s) {
        // Dword (k2, j) of the step's tile holds positions 32s + 2k2, +1 of token t.
        auto* dst = reinterpret_cast<int32_t*>(tb + s * 512) + j;
        __m512i v = _mm512_setzero_si512();
        if (t < a->n) {
          const int64_t left = cols - 32 * s;
          const __mmask16 m0 = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
          const __mmask16 m1 =
              left >= 32 ? 0xFFFF : left <= 16 ? 0 : static_cast<__mmask16>((1u << (left - 16)) - 1);
          const int32_t* c = a->col.data() + 32 * s;
          const __m512 lo = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0,
                                                     _mm512_loadu_si512(c), xt, 4);
          const __m512 hi = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1,
                                                     _mm512_loadu_si512(c + 16), xt, 4);
          v = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
        }
        _mm512_i32scatter_epi32(dst, idx, v, 4);
      }
    }
  }
}

void amx_rows(const PackedWeight& w, const AmxAct& a, int64_t r0, int64_t r1, float* y,
              int64_t ldy) {
  if (r0 >= r1 || a.n <= 0) return;
  configure_tiles();
  Scratch& s = tls;
  const int64_t cols = w.cols(), steps = a.steps, kp = steps * 32;
  if (static_cast<int64_t>(s.row.size()) < kp) s.row.resize(kp);
  if (static_cast<int64_t>(s.panel.size()) < kPanel * kp) s.panel.resize(kPanel * kp);
  const int64_t stride_a = kp * 2;
  for (int64_t p0 = r0; p0 < r1; p0 += kPanel) {
    const int64_t nr = std::min<int64_t>(kPanel, r1 - p0);
    // Dequantize the panel's rows to bf16 (rows past nr: zero).
    for (int64_t i = 0; i < kPanel; ++i) {
      uint16_t* prow = s.panel.data() + i * kp;
      if (i >= nr) {
        // Rows past nr up to the next 32 feed the A tile pair: zeros.
        if (i < (nr + 31) / 32 * 32) std::memset(prow, 0, kp * 2);
        continue;
      }
      decode_row_packed_avx512(w, p0 + i, s.row.data());
      for (int64_t k = 0; k < kp; k += 32)
        _mm512_storeu_si512(prow + k, to_bf16_pairs(s.row.data() + k, cols - k));
    }
    // For each pair of token tiles, the pairs of A tiles of the panel: the
    // B tiles (read from L3 for long rows) are reused from L2 by every pair
    // of 16-row A tiles, and the panel stays in L2 across token tiles.
    for (int64_t tt = 0; tt < a.tiles; tt += 2) {
      const bool two = tt + 1 < a.tiles;
      const uint16_t* b0 = a.b.data() + tt * steps * 512;
      const uint16_t* b1 = two ? b0 + steps * 512 : b0;
      const int64_t t0 = tt * 16;
      const int64_t nt0 = std::min<int64_t>(16, a.n - t0);
      const int64_t nt1 = two ? std::min<int64_t>(16, a.n - t0 - 16) : 0;
      for (int64_t q0 = 0; q0 < nr; q0 += 32) {
        const uint16_t* pa = s.panel.data() + q0 * kp;
        const uint16_t* pb = pa + 16 * kp;
        const int64_t nq = std::min<int64_t>(32, nr - q0);
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t k = 0; k < steps; ++k) {
          _tile_loadd(4, pa + k * 32, stride_a);
          _tile_loadd(5, pb + k * 32, stride_a);
          _tile_loadd(6, b0 + k * 512, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(2, 5, 6);
          if (two) {
            _tile_loadd(7, b1 + k * 512, 64);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
          }
        }
        _tile_stored(0, s.c[0], 64);
        _tile_stored(2, s.c[2], 64);
        store_tile_out(s.c[0], p0 + q0, std::min<int64_t>(16, nq), t0, nt0, y, ldy);
        if (nq > 16) store_tile_out(s.c[2], p0 + q0 + 16, nq - 16, t0, nt0, y, ldy);
        if (two) {
          _tile_stored(1, s.c[1], 64);
          _tile_stored(3, s.c[3], 64);
          store_tile_out(s.c[1], p0 + q0, std::min<int64_t>(16, nq), t0 + 16, nt1, y, ldy);
          if (nq > 16) store_tile_out(s.c[3], p0 + q0 + 16, nq - 16, t0 + 16, nt1, y, ldy);
        }
      }
    }
  }
  _tile_release();
}

}  // namespace scn::inference::cpu
