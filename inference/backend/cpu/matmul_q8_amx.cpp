// AMX int8 path for Q8_0 weights and a few tokens (see matmul_amx.h):
// TDPBSSD on the GGUF blocks in place, one block (K = 32) per tile product,
// the per-block scales applied to the int32 tile with AVX-512 FMAs.
#include "inference/backend/cpu/matmul_amx.h"

#include <immintrin.h>

// GCC 12's own reduce/undefined intrinsics trip these warnings.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "inference/backend/cpu/amx_act_quant.h"
#include "inference/backend/cpu/amx_tile_config.h"

namespace scn::inference::cpu {
namespace {

constexpr int64_t kQ8Block = 34;  // bytes of a GGUF Q8_0 block: fp16 d, 32 x int8

// Tiles 0-1: A (16 weight rows x 32 bytes), 2-3: B (8 rows of n tokens x 4
// bytes), 4-5: C (16 weight rows x n tokens of int32); pairs alternate by block.
void configure_tiles(int64_t n) {
  AmxTileConfig cfg;
  for (int i = 0; i < 2; ++i) {
    cfg.colsb[i] = 32;
    cfg.rows[i] = 16;
    cfg.colsb[2 + i] = static_cast<uint16_t>(4 * n);
    cfg.rows[2 + i] = 8;
    cfg.colsb[4 + i] = static_cast<uint16_t>(4 * n);
    cfg.rows[4 + i] = 16;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace

bool amx_q8_applicable(const PackedWeight& w, int64_t n) {
  return w.type() == GgmlType::Q8_0 && w.original() != nullptr && n >= 2 &&
         n <= kAmxQ8MaxTokens && w.rows() % 16 == 0 && w.cols() % 32 == 0 && amx_int8_usable();
}

void amx_q8_prepare_act(int64_t n, int64_t cols, AmxQ8Act* a) {
  a->n = n;
  a->cols = cols;
  a->blocks = cols / 32;
  const size_t qb = static_cast<size_t>(a->blocks * 32 * n);
  if (a->b.size() < qb) a->b.resize(qb);
  const size_t db = static_cast<size_t>(a->blocks * 16);
  if (a->d.size() < db) a->d.resize(db);
  std::fill(a->d.begin(), a->d.begin() + static_cast<ptrdiff_t>(db), 0.f);
}

void amx_q8_quantize_act(const float* x, int64_t t0, int64_t t1, AmxQ8Act* a) {
  const int64_t cols = a->cols, n = a->n;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * cols;
    for (int64_t j = 0; j < a->blocks; ++j) {
      const Q8Block blk = quantize_q8_block(xt + 32 * j);
      alignas(16) int32_t q[8];
      _mm_store_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(blk.q0));
      _mm_store_si128(reinterpret_cast<__m128i*>(q + 4), _mm512_cvtepi32_epi8(blk.q1));
      // B tile of block j: row kk holds elements 4kk..4kk+3 of every token.
      int8_t* bj = a->b.data() + j * 32 * n;
      for (int kk = 0; kk < 8; ++kk) std::memcpy(bj + kk * 4 * n + 4 * t, q + kk, 4);
      a->d[j * 16 + t] = blk.d;
    }
  }
}

void amx_q8_rows(const PackedWeight& w, const AmxQ8Act& a, int64_t r0, int64_t r1, float* y,
                 int64_t ldy) {
  if (r0 >= r1 || a.n <= 0) return;
  configure_tiles(a.n);
  const int64_t n = a.n, blocks = a.blocks;
  const int64_t stride = static_cast<int64_t>(row_size(GgmlType::Q8_0, w.cols()));
  const auto* base = static_cast<const uint8_t*>(w.original());
  const __m512i row_off = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int32_t>(stride)));
  // The 16 rows of a panel are contiguous: while one panel is multiplied,
  // the next is fetched into L2, per_block bytes per block step.
  const int64_t panel_bytes = 16 * stride;
  const int64_t per_block = (panel_bytes + blocks - 1) / blocks;
  alignas(64) int32_t c[2][16][16];
  alignas(64) float out[16][16];
  for (int64_t p0 = r0; p0 < r1; p0 += 16) {
    const uint8_t* pw = base + p0 * stride;
    const bool next_panel = p0 + 16 < r1;
    __m512 acc[16];
    for (int m = 0; m < 16; ++m) acc[m] = _mm512_setzero_ps();
    // Block j's product into C tile 4 + (j & 1), stored to c[j & 1].
    auto issue = [&](int64_t j) {
      const uint8_t* pa = pw + j * kQ8Block + 2;
      const int8_t* pb = a.b.data() + j * 32 * n;
      if (next_panel)
        for (int64_t l = 0; l < per_block; l += 64)
          _mm_prefetch(reinterpret_cast<const char*>(pw + panel_bytes + j * per_block + l),
                       _MM_HINT_T1);
      if (j & 1) {
        _tile_loadd(1, pa, stride);
        _tile_loadd(3, pb, 4 * n);
        _tile_zero(5);
        _tile_dpbssd(5, 1, 3);
        _tile_stored(5, c[1], 64);
      } else {
        _tile_loadd(0, pa, stride);
        _tile_loadd(2, pb, 4 * n);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 2);
        _tile_stored(4, c[0], 64);
      }
    };
    // acc[m] (lanes: tokens) += d_w[m] * d_a * C[m].
    auto apply = [&](int64_t j) {
      const __m512 da = _mm512_loadu_ps(a.d.data() + j * 16);
      const __m512i h = _mm512_i32gather_epi32(row_off, pw + j * kQ8Block, 1);
      alignas(64) float dw[16];
      _mm512_store_ps(dw, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h)));
      const int32_t(*cj)[16] = c[j & 1];
      for (int m = 0; m < 16; ++m) {
        const __m512 v = _mm512_cvtepi32_ps(_mm512_load_si512(cj[m]));
        acc[m] = _mm512_fmadd_ps(v, _mm512_mul_ps(da, _mm512_set1_ps(dw[m])), acc[m]);
      }
    };
    issue(0);
    for (int64_t j = 0; j < blocks; ++j) {
      if (j + 1 < blocks) issue(j + 1);
      apply(j);
    }
    for (int m = 0; m < 16; ++m) _mm512_store_ps(out[m], acc[m]);
    for (int64_t t = 0; t < n; ++t) {
      float* yt = y + t * ldy + p0;
      for (int m = 0; m < 16; ++m) yt[m] = out[m][t];
    }
  }
  _tile_release();
}

}  // namespace scn::inference::cpu
