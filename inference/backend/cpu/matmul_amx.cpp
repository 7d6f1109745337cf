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

constexpr int kPanel = 128;  // weight rows per panel (pairs of A tiles)
constexpr int64_t kChunkSteps = 32;  // column steps (of 32) per chunk of the panel

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
  std::vector<uint16_t> panel;   // [kPanel / 16][steps] A tiles of [16 rows][32] bf16
  std::vector<float> cacc;       // [kPanel / 32][token tile pairs][4][16][16]
  alignas(64) float c[4][16][16];
};

thread_local Scratch tls;

// m[i] = row i of a 16 x 16 matrix of dwords becomes its transpose.
[[gnu::always_inline]] inline void transpose16x16(__m512i m[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(m[2 * i], m[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(m[2 * i], m[2 * i + 1]);
  }
  // u[4g + c], 128-bit lane L: rows 4g..4g+3 of column 4L + c.
  __m512i u[16];
  for (int g = 0; g < 4; ++g) {
    u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i s0 = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i s1 = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i s2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i s3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    m[c] = _mm512_shuffle_i32x4(s0, s2, _MM_SHUFFLE(2, 0, 2, 0));
    m[4 + c] = _mm512_shuffle_i32x4(s0, s2, _MM_SHUFFLE(3, 1, 3, 1));
    m[8 + c] = _mm512_shuffle_i32x4(s1, s3, _MM_SHUFFLE(2, 0, 2, 0));
    m[12 + c] = _mm512_shuffle_i32x4(s1, s3, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

[[gnu::always_inline]] inline void store_tile_out(const float (*c)[16], int64_t r0, int64_t nr, int64_t t0, int64_t nt,
                    float* y, int64_t ldy) {
  // c[i][j]: weight row r0 + i, token t0 + j; transposed, row j is token j.
  __m512i m[16];
  for (int i = 0; i < 16; ++i) m[i] = _mm512_load_si512(c[i]);
  transpose16x16(m);
  const __mmask16 mask = nr >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1);
  for (int64_t j = 0; j < nt; ++j)
    _mm512_mask_storeu_ps(y + (t0 + j) * ldy + r0, mask, _mm512_castsi512_ps(m[j]));
}

// Whether amx_rows decodes w's rows straight from the GGUF blocks (in the
// natural column order): Q4_0 and Q8_0, whose blocks are one 32-column step.
bool decodes_natural(const PackedWeight& w) {
  return (w.type() == GgmlType::Q4_0 || w.type() == GgmlType::Q8_0) && w.original() != nullptr &&
         w.cols() % 32 == 0;
}

// Row r of a decodes_natural weight as bf16, block k (columns 32k..32k+31)
// at out + 512k (one row of the step's A tile). Each value is d * q rounded
// once to bf16, as decode_row_packed_avx512 + to_bf16_pairs give it.
void decode_row_bf16(const PackedWeight& w, int64_t r, uint16_t* out) {
  const int64_t blocks = w.cols() / 32;
  const auto* row = static_cast<const uint8_t*>(w.original()) + r * row_size(w.type(), w.cols());
  if (w.type() == GgmlType::Q4_0) {
    // The 16 values d * (q - 8) of the block as bf16, looked up by nibble.
    const __m512 qv = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (int64_t k = 0; k < blocks; ++k) {
      const uint8_t* b = row + 18 * k;
      const float d = _cvtsh_ss(load_u16(b));
      const __m256i lut = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_set1_ps(d), qv)));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
      // Bytes 0-15: low nibbles (values 0-15), 16-31: high nibbles (16-31).
      const __m256i nib = _mm256_and_si256(
          _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1), low);
      const __m512i v = _mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(nib), _mm512_castsi256_si512(lut));
      _mm512_storeu_si512(out + 512 * k, v);
    }
    return;
  }
  for (int64_t k = 0; k < blocks; ++k) {
    const uint8_t* b = row + 34 * k;
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(load_u16(b)));
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18));
    const __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
    const __m512 hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
    _mm512_storeu_si512(out + 512 * k, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
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
  a->natural = decodes_natural(w);
  a->col.assign(a->steps * 32, 0);
  if (a->natural) {
    for (int64_t c = 0; c < cols; ++c) a->col[c] = static_cast<int32_t>(c);
  } else {
    packed_order_columns(w, a->col.data());
  }
}

void amx_pack_act(const float* x, int64_t tile0, int64_t tile1, AmxAct* a) {
  const int64_t cols = a->cols, steps = a->steps;
  for (int64_t tt = tile0; tt < tile1; ++tt) {
    uint16_t* tb = a->b.data() + tt * steps * 512;
    for (int64_t s = 0; s < steps; ++s) {
      // Row j of m: the 16 bf16 pairs of token tt * 16 + j (positions 32s..);
      // the tile is its transpose (dword (k2, j) at row k2).
      __m512i m[16];
      const int64_t left = cols - 32 * s;
      const __mmask16 m0 = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
      const __mmask16 m1 =
          left >= 32 ? 0xFFFF : left <= 16 ? 0 : static_cast<__mmask16>((1u << (left - 16)) - 1);
      const int32_t* c = a->col.data() + 32 * s;
      const __m512i c0 = _mm512_loadu_si512(c), c1 = _mm512_loadu_si512(c + 16);
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t t = tt * 16 + j;
        if (t >= a->n) {
          m[j] = _mm512_setzero_si512();
          continue;
        }
        const float* xt = x + t * cols;
        __m512 lo, hi;
        if (a->natural) {
          lo = _mm512_maskz_loadu_ps(m0, xt + 32 * s);
          hi = _mm512_maskz_loadu_ps(m1, xt + 32 * s + 16);
        } else {
          lo = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, c0, xt, 4);
          hi = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, c1, xt, 4);
        }
        m[j] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
      }
      transpose16x16(m);
      for (int k2 = 0; k2 < 16; ++k2) _mm512_storeu_si512(tb + s * 512 + k2 * 32, m[k2]);
    }
  }
}

void amx_rows(const PackedWeight& w, const AmxAct& a, int64_t r0, int64_t r1, float* y,
              int64_t ldy) {
  if (r0 >= r1 || a.n <= 0) return;
  configure_tiles();
  Scratch& s = tls;
  const int64_t cols = w.cols(), steps = a.steps, kp = steps * 32;
  const int64_t pairs = (a.tiles + 1) / 2;  // pairs of token tiles
  if (static_cast<int64_t>(s.row.size()) < kp) s.row.resize(kp);
  if (static_cast<int64_t>(s.panel.size()) < kPanel * kp) s.panel.resize(kPanel * kp);
  // Partial sums of the 4 C tiles per pair of A tiles and pair of token
  // tiles between column chunks (only when there is more than one chunk).
  const int64_t chunks = (steps + kChunkSteps - 1) / kChunkSteps;
  const size_t cacc_n = chunks > 1 ? static_cast<size_t>((kPanel / 32) * pairs * 4 * 256) : 0;
  if (s.cacc.size() < cacc_n) s.cacc.resize(cacc_n);
  for (int64_t p0 = r0; p0 < r1; p0 += kPanel) {
    const int64_t nr = std::min<int64_t>(kPanel, r1 - p0);
    // Dequantize the panel's rows to bf16 (rows past nr up to the next 32,
    // which feed the last A tile pair: zero).
    // Each A tile is contiguous (16 rows of 64 bytes), so that a tile load
    // reads one 1 KiB stream.
    for (int64_t i = 0; i < (nr + 31) / 32 * 32; ++i) {
      uint16_t* prow = s.panel.data() + (i / 16) * steps * 512 + (i % 16) * 32;
      if (i >= nr) {
        for (int64_t k = 0; k < steps; ++k) _mm512_storeu_si512(prow + k * 512, _mm512_setzero_si512());
        continue;
      }
      if (a.natural) {
        decode_row_bf16(w, p0 + i, prow);
        continue;
      }
      decode_row_packed_avx512(w, p0 + i, s.row.data());
      for (int64_t k = 0; k < steps; ++k)
        _mm512_storeu_si512(prow + k * 512, to_bf16_pairs(s.row.data() + 32 * k, cols - 32 * k));
    }
    // Column chunks of the panel (kept in L2) against each pair of token
    // tiles: a pair's B tiles of the chunk come from L3 once and then from
    // L1/L2 for every pair of A tiles of the panel.
    for (int64_t k0 = 0; k0 < steps; k0 += kChunkSteps) {
      const int64_t k1 = std::min(steps, k0 + kChunkSteps);
      const bool first = k0 == 0, last = k1 == steps;
      for (int64_t tp = 0; tp < pairs; ++tp) {
        const int64_t tt = 2 * tp;
        const bool two = tt + 1 < a.tiles;
        const uint16_t* b0 = a.b.data() + tt * steps * 512;
        const uint16_t* b1 = two ? b0 + steps * 512 : b0;
        const int64_t t0 = tt * 16;
        const int64_t nt0 = std::min<int64_t>(16, a.n - t0);
        const int64_t nt1 = two ? std::min<int64_t>(16, a.n - t0 - 16) : 0;
        for (int64_t q0 = 0; q0 < nr; q0 += 32) {
          const uint16_t* pa = s.panel.data() + (q0 / 16) * steps * 512;
          const uint16_t* pb = pa + steps * 512;
          const int64_t nq = std::min<int64_t>(32, nr - q0);
          float* keep = cacc_n ? s.cacc.data() + ((q0 / 32) * pairs + tp) * 4 * 256 : nullptr;
          if (first) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
          } else {
            _tile_loadd(0, keep, 64);
            _tile_loadd(1, keep + 256, 64);
            _tile_loadd(2, keep + 512, 64);
            _tile_loadd(3, keep + 768, 64);
          }
          for (int64_t k = k0; k < k1; ++k) {
            _tile_loadd(4, pa + k * 512, 64);
            _tile_loadd(6, b0 + k * 512, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_loadd(5, pb + k * 512, 64);
            _tile_dpbf16ps(2, 5, 6);
            if (two) {
              _tile_loadd(7, b1 + k * 512, 64);
              _tile_dpbf16ps(1, 4, 7);
              _tile_dpbf16ps(3, 5, 7);
            }
          }
          if (!last) {
            _tile_stored(0, keep, 64);
            _tile_stored(1, keep + 256, 64);
            _tile_stored(2, keep + 512, 64);
            _tile_stored(3, keep + 768, 64);
            continue;
          }
          const int64_t nq0 = std::min<int64_t>(16, nq), nq1 = nq - nq0;
          _tile_stored(0, s.c[0], 64);
          store_tile_out(s.c[0], p0 + q0, nq0, t0, nt0, y, ldy);
          if (nq1 > 0) {
            _tile_stored(2, s.c[2], 64);
            store_tile_out(s.c[2], p0 + q0 + 16, nq1, t0, nt0, y, ldy);
          }
          if (two) {
            _tile_stored(1, s.c[1], 64);
            store_tile_out(s.c[1], p0 + q0, nq0, t0 + 16, nt1, y, ldy);
            if (nq1 > 0) {
              _tile_stored(3, s.c[3], 64);
              store_tile_out(s.c[3], p0 + q0 + 16, nq1, t0 + 16, nt1, y, ldy);
            }
          }
        }
      }
    }
  }
  _tile_release();
}

}  // namespace scn::inference::cpu
