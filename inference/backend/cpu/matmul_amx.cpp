// AMX path of the quantized matmul (see matmul_amx.h): bf16 tiles,
// TDPBF16PS, activations as the A operand and weights as the B operand, a
// 2 x 2 register block of 32 tokens x 32 weight rows (or 16 rows of gate
// and of up), over panels of 128 B-tile rows decoded once to bf16 and kept
// in L2.
#include "inference/backend/cpu/matmul_amx.h"

#include <immintrin.h>

// GCC 12's own reduce/undefined intrinsics trip these warnings.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "inference/backend/cpu/avx512_math.h"
#include "inference/backend/cpu/matmul_kernels.h"

namespace scn::inference::cpu {
namespace {

constexpr int kPanel = 128;          // weight rows per panel (pairs of B tiles)
constexpr int64_t kChunkSteps = 32;  // column steps (of 32) per chunk of the panel

// Tiles 0-3: C (16 tokens x 16 rows fp32), 4-5: A (tokens), 6-7: B
// (weight rows); all 16 rows of 64 bytes.
void configure_tiles() {
  AmxTileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  _tile_loadconfig(&cfg);
}

inline __mmask16 lanes(int64_t avail) {
  return avail >= 16 ? 0xFFFF : avail <= 0 ? 0 : static_cast<__mmask16>((1u << avail) - 1);
}

// 32 floats -> 32 bf16 (round to nearest even), as 16 dwords of pairs.
inline __m512i to_bf16_pairs(const float* x, int64_t avail) {
  const __m512 lo = _mm512_maskz_loadu_ps(lanes(avail), x);
  const __m512 hi = _mm512_maskz_loadu_ps(lanes(avail - 16), x + 16);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// VPERMW index pairing a 32-column block's halves: result word 2i takes
// word i, word 2i + 1 takes word 16 + i.
inline __m512i halves_index() {
  alignas(64) uint16_t idx[32];
  for (int i = 0; i < 16; ++i) {
    idx[2 * i] = static_cast<uint16_t>(i);
    idx[2 * i + 1] = static_cast<uint16_t>(16 + i);
  }
  return _mm512_load_si512(idx);
}

struct Scratch {
  std::vector<float> row;
  AmxVector<uint16_t> rows16;  // [16 rows][steps * 32] bf16 (row-wise decode)
  AmxVector<uint16_t> panel;   // [kPanel / 16][steps] B tiles of [16 pairs][16 rows][2] bf16
  AmxVector<float> cacc;       // [B tile pairs][token tile pairs][4][16][16]
  alignas(64) float c4[4][16][16];  // C tiles on their way out
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

// Whether rows of 16 floats at dst, dst + ldy, ... are whole cache lines.
inline bool lines_whole(const float* dst, int64_t ldy) {
  return (reinterpret_cast<uintptr_t>(dst) & 63) == 0 && ldy % 16 == 0;
}

// Outputs of at least this many bytes are written with streaming stores:
// their lines are not cached anyway (a cache miss per line that a tile
// store waits for, and its read from memory).
constexpr int64_t kStreamOutBytes = 4 << 20;

// C tile (16 tokens from t0, 16 rows from r0) to y: one tile store when
// whole, else through c and masked row stores; stream: whole tiles through
// c and streaming stores when y's rows are whole cache lines.
[[gnu::always_inline]] inline void store_c(int tile, float (*c)[16], int64_t r0, int64_t nr,
                                           int64_t t0, int64_t nt, float* y, int64_t ldy,
                                           bool stream) {
  float* dst = y + t0 * ldy + r0;
  const bool whole = nr == 16 && nt == 16;
  const bool nt_ok = stream && nr == 16 && lines_whole(dst, ldy);
  if (whole && !nt_ok) {
    switch (tile) {
      case 0: _tile_stored(0, dst, ldy * 4); break;
      case 1: _tile_stored(1, dst, ldy * 4); break;
      case 2: _tile_stored(2, dst, ldy * 4); break;
      default: _tile_stored(3, dst, ldy * 4); break;
    }
    return;
  }
  switch (tile) {
    case 0: _tile_stored(0, c, 64); break;
    case 1: _tile_stored(1, c, 64); break;
    case 2: _tile_stored(2, c, 64); break;
    default: _tile_stored(3, c, 64); break;
  }
  if (nt_ok) {
    for (int64_t j = 0; j < nt; ++j) _mm512_stream_ps(dst + j * ldy, _mm512_load_ps(c[j]));
    return;
  }
  const __mmask16 mask = lanes(nr);
  for (int64_t j = 0; j < nt; ++j) _mm512_mask_storeu_ps(dst + j * ldy, mask, _mm512_load_ps(c[j]));
}

// Whether amx_rows decodes w's rows straight from the GGUF blocks (in the
// natural column order): Q4_0 and Q8_0, whose blocks are one 32-column step.
bool decodes_natural(const PackedWeight& w) {
  return (w.type() == GgmlType::Q4_0 || w.type() == GgmlType::Q8_0) && w.original() != nullptr &&
         w.cols() % 32 == 0;
}

// B tiles of rows [r, r + nr) (nr ≤ 16; rows past nr zero) of a Q4_0
// weight, one per block, at out + 512k. Lane n of tile row i: the pair
// (column i, column i + 16) of the block in row r + n, d * (q - 8) rounded
// once to bf16 as the row-wise decode gives it. VPERMB/VPERMT2B are
// AVX512-VBMI, which amx_usable() requires.
[[gnu::target("avx512vbmi")]] void decode_tile_q4_0(const PackedWeight& w, int64_t r, int64_t nr,
                                                    uint16_t* out) {
  const int64_t blocks = w.cols() / 32;
  const size_t rb = row_size(w.type(), w.cols());
  const auto* base = static_cast<const uint8_t*>(w.original()) + r * rb;
  const __mmask16 valid = lanes(nr);
  // Byte 16m + n of perm[j]: byte 16(n % 4) + 4j + m of table n / 4 % 2
  // (z0/z1 for rows 0-7, z2/z3 for rows 8-15), i.e. q_n[4j + m].
  alignas(64) uint8_t pidx[4][64];
  for (int j = 0; j < 4; ++j)
    for (int m = 0; m < 4; ++m)
      for (int n = 0; n < 16; ++n)
        pidx[j][16 * m + n] = static_cast<uint8_t>((n / 4 % 2) * 64 + 16 * (n % 4) + 4 * j + m);
  // Dword n of spread[m]: byte 16m + n (zero-extended).
  alignas(64) uint8_t sidx[4][64];
  for (int m = 0; m < 4; ++m)
    for (int n = 0; n < 16; ++n)
      for (int b = 0; b < 4; ++b) sidx[m][4 * n + b] = static_cast<uint8_t>(16 * m + n);
  __m512i perm[4], spread[4];
  for (int j = 0; j < 4; ++j) {
    perm[j] = _mm512_load_si512(pidx[j]);
    spread[j] = _mm512_load_si512(sidx[j]);
  }
  const __m512i il = halves_index();
  const __m512i low = _mm512_set1_epi32(0x0F);
  const __m512i offs =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(rb)));
  for (int64_t k = 0; k < blocks; ++k) {
    const uint8_t* b = base + 18 * k;
    // Scales of the 16 rows (0 past nr).
    const __m512i dw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, offs, b, 1);
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dw));
    const __m512 m8d = _mm512_mul_ps(d, _mm512_set1_ps(-8.f));
    // z[g], 128-bit lane m: the 16 qs bytes of row 4g + m (zero past nr).
    __m512i z[4];
    if (nr == 16) {
      auto row16 = [&](const uint8_t* p) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      };
      for (int g = 0; g < 4; ++g) {
        const uint8_t* p = b + 4 * g * rb + 2;
        __m512i v = _mm512_castsi128_si512(row16(p));
        v = _mm512_inserti32x4(v, row16(p + rb), 1);
        v = _mm512_inserti32x4(v, row16(p + 2 * rb), 2);
        z[g] = _mm512_inserti32x4(v, row16(p + 3 * rb), 3);
      }
    } else {
      alignas(64) uint8_t q[16][16] = {};
      for (int64_t n = 0; n < nr; ++n) std::memcpy(q[n], b + n * rb + 2, 16);
      for (int g = 0; g < 4; ++g) z[g] = _mm512_load_si512(q[4 * g]);
    }
    uint16_t* o = out + 512 * k;
    for (int j = 0; j < 4; ++j) {
      const __m512i t = _mm512_mask_blend_epi8(0xFF00FF00FF00FF00ull,
                                               _mm512_permutex2var_epi8(z[0], perm[j], z[1]),
                                               _mm512_permutex2var_epi8(z[2], perm[j], z[3]));
      for (int m = 0; m < 4; ++m) {
        // Tile row 4j + m: byte n of row n's qs byte 4j + m, split in nibbles.
        const __m512i x = _mm512_maskz_permutexvar_epi8(0x1111111111111111ull, spread[m], t);
        const __m512 lo = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(x, low)), d, m8d);
        const __m512 hi = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x, 4)), d, m8d);
        const __m512i v = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
        _mm512_store_si512(o + 32 * (4 * j + m), _mm512_permutexvar_epi16(il, v));
      }
    }
  }
}

// Row r of a Q8_0 weight (decodes_natural) as bf16 in the natural order, d
// * q rounded once, at out[32k..] for block k.
void decode_row_q8_0(const PackedWeight& w, int64_t r, uint16_t* out) {
  const int64_t blocks = w.cols() / 32;
  const auto* row = static_cast<const uint8_t*>(w.original()) + r * row_size(w.type(), w.cols());
  for (int64_t k = 0; k < blocks; ++k) {
    const uint8_t* b = row + 34 * k;
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(load_u16(b)));
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18));
    const __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
    const __m512 hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
    _mm512_store_si512(out + 32 * k, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
}

// B tiles of rows [r, r + nr) (nr ≤ 16; rows past nr zero) of any other
// weight: each row decoded to bf16 (Q8_0 in the natural order, the rest in
// the packed order), then each step's 16 x 16 lanes transposed.
void decode_tile_rows(const PackedWeight& w, const AmxAct& a, int64_t r, int64_t nr, Scratch& s,
                      uint16_t* out) {
  const int64_t steps = a.steps, kp = steps * 32;
  for (int64_t i = 0; i < 16; ++i) {
    uint16_t* prow = s.rows16.data() + i * kp;
    if (i >= nr) {
      std::memset(prow, 0, kp * 2);
    } else if (a.order == AmxColOrder::kNatural) {
      decode_row_q8_0(w, r + i, prow);
    } else {
      decode_row_packed_avx512(w, r + i, s.row.data());
      for (int64_t k = 0; k < steps; ++k)
        _mm512_store_si512(prow + 32 * k, to_bf16_pairs(s.row.data() + 32 * k, w.cols() - 32 * k));
    }
  }
  for (int64_t k = 0; k < steps; ++k) {
    __m512i m[16];
    for (int i = 0; i < 16; ++i) m[i] = _mm512_load_si512(s.rows16.data() + i * kp + 32 * k);
    transpose16x16(m);
    for (int i = 0; i < 16; ++i) _mm512_store_si512(out + 512 * k + 32 * i, m[i]);
  }
}

}  // namespace

AmxColOrder amx_col_order(const PackedWeight& w) {
  if (!decodes_natural(w)) return AmxColOrder::kPacked;
  return w.type() == GgmlType::Q4_0 ? AmxColOrder::kHalves : AmxColOrder::kNatural;
}

void amx_prepare_act(const PackedWeight& w, int64_t n, AmxAct* a) {
  const int64_t cols = w.cols();
  a->n = n;
  a->cols = cols;
  a->tiles = (n + 15) / 16;
  a->steps = (cols + 31) / 32;
  const size_t need = static_cast<size_t>(a->tiles * a->steps * 512);
  if (a->b.size() < need) a->b.resize(need);
  a->order = amx_col_order(w);
  if (a->order != AmxColOrder::kPacked) return;
  a->col.assign(a->steps * 32, 0);
  packed_order_columns(w, a->col.data());
}

void amx_pack_act(const float* x, int64_t tile0, int64_t tile1, AmxAct* a) {
  const int64_t cols = a->cols, steps = a->steps;
  const __m512i il = halves_index();
  for (int64_t tt = tile0; tt < tile1; ++tt) {
    uint16_t* tb = a->b.data() + tt * steps * 512;
    for (int64_t j = 0; j < 16; ++j) {
      const int64_t t = tt * 16 + j;
      uint16_t* row = tb + 32 * j;  // row j of the token tile, step 0
      if (t >= a->n) {
        for (int64_t s = 0; s < steps; ++s)
          _mm512_store_si512(row + 512 * s, _mm512_setzero_si512());
        continue;
      }
      const float* xt = x + t * cols;
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t left = cols - 32 * s;
        __m512i v;
        if (a->order == AmxColOrder::kPacked) {
          const int32_t* c = a->col.data() + 32 * s;
          const __m512 lo = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes(left),
                                                     _mm512_loadu_si512(c), xt, 4);
          const __m512 hi = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes(left - 16),
                                                     _mm512_loadu_si512(c + 16), xt, 4);
          v = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
        } else {
          v = to_bf16_pairs(xt + 32 * s, left);
          if (a->order == AmxColOrder::kHalves) v = _mm512_permutexvar_epi16(il, v);
        }
        _mm512_store_si512(row + 512 * s, v);
      }
    }
  }
}

namespace {

// SwiGLU of a gate C tile and an up C tile (16 tokens from t0, nr rows from
// r0; scratch cg, cu) to y.
[[gnu::always_inline]] inline void store_glu(float (*cg)[16], float (*cu)[16], int64_t r0,
                                             int64_t nr, int64_t t0, int64_t nt, float* y,
                                             int64_t ldy, bool stream) {
  float* dst = y + t0 * ldy + r0;
  const bool nt_ok = stream && nr == 16 && lines_whole(dst, ldy);
  const __mmask16 mask = lanes(nr);
  for (int64_t j = 0; j < nt; ++j) {
    const __m512 v = silu_mul16(_mm512_load_ps(cg[j]), _mm512_load_ps(cu[j]));
    if (nt_ok) {
      _mm512_stream_ps(dst + j * ldy, v);
    } else {
      _mm512_mask_storeu_ps(dst + j * ldy, mask, v);
    }
  }
}

// amx_rows, or with up: y = silu(x · wᵀ) * (x · upᵀ) for rows [r0, r1) of
// both, each panel holding 64 rows of each (B tile pairs: gate, up).
void rows_impl(const PackedWeight& w, const PackedWeight* up, const AmxAct& a, int64_t r0,
               int64_t r1, float* y, int64_t ldy) {
  if (r0 >= r1 || a.n <= 0) return;
  configure_tiles();
  Scratch& s = tls;
  const int64_t steps = a.steps, kp = steps * 32;
  const int64_t pairs = (a.tiles + 1) / 2;  // pairs of token tiles
  const int64_t panel_rows = up ? kPanel / 2 : kPanel;  // output rows per panel
  const bool stream = a.n * ldy * 4 >= kStreamOutBytes;
  if (static_cast<int64_t>(s.row.size()) < kp) s.row.resize(kp);
  if (static_cast<int64_t>(s.panel.size()) < kPanel * kp) s.panel.resize(kPanel * kp);
  if (a.order != AmxColOrder::kHalves && static_cast<int64_t>(s.rows16.size()) < 16 * kp)
    s.rows16.resize(16 * kp);
  // Partial sums of the 4 C tiles per pair of B tiles and pair of token
  // tiles between column chunks (only when there is more than one chunk).
  const int64_t chunks = (steps + kChunkSteps - 1) / kChunkSteps;
  const size_t cacc_n = chunks > 1 ? static_cast<size_t>((kPanel / 32) * pairs * 4 * 256) : 0;
  if (s.cacc.size() < cacc_n) s.cacc.resize(cacc_n);
  auto decode = [&](const PackedWeight& m, int64_t r, int64_t nr, uint16_t* dst) {
    if (a.order == AmxColOrder::kHalves) {
      decode_tile_q4_0(m, r, nr, dst);
    } else {
      decode_tile_rows(m, a, r, nr, s, dst);
    }
  };
  for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
    const int64_t nr = std::min<int64_t>(panel_rows, r1 - p0);
    const int64_t rtiles = (nr + 15) / 16;
    // Decode the panel's rows to B tiles, each contiguous (16 rows of 64
    // bytes) so that a tile load reads one 1 KiB stream: tile q for rows
    // 16q.. (past nr up to the next pair: zero), or with up tiles 2q and
    // 2q + 1 for rows 16q.. of w and up.
    int64_t bpairs;  // pairs of B tiles
    if (up) {
      for (int64_t q = 0; q < rtiles; ++q) {
        const int64_t nq = std::min<int64_t>(16, nr - 16 * q);
        decode(w, p0 + 16 * q, nq, s.panel.data() + 2 * q * steps * 512);
        decode(*up, p0 + 16 * q, nq, s.panel.data() + (2 * q + 1) * steps * 512);
      }
      bpairs = rtiles;
    } else {
      for (int64_t q = 0; q < rtiles; ++q)
        decode(w, p0 + 16 * q, std::min<int64_t>(16, nr - 16 * q),
               s.panel.data() + q * steps * 512);
      if (rtiles % 2 == 1) std::memset(s.panel.data() + rtiles * steps * 512, 0, steps * 512 * 2);
      bpairs = (rtiles + 1) / 2;
    }
    // Column chunks of the panel (kept in L2) against each pair of token
    // tiles: a pair's A tiles of the chunk come from L3 once and then from
    // L1/L2 for every pair of B tiles of the panel.
    for (int64_t k0 = 0; k0 < steps; k0 += kChunkSteps) {
      const int64_t k1 = std::min(steps, k0 + kChunkSteps);
      const bool first = k0 == 0, last = k1 == steps;
      for (int64_t tp = 0; tp < pairs; ++tp) {
        const int64_t tt = 2 * tp;
        const bool two = tt + 1 < a.tiles;
        const uint16_t* a0 = a.b.data() + tt * steps * 512;
        const uint16_t* a1 = two ? a0 + steps * 512 : a0;
        const int64_t t0 = tt * 16;
        const int64_t nt0 = std::min<int64_t>(16, a.n - t0);
        const int64_t nt1 = two ? std::min<int64_t>(16, a.n - t0 - 16) : 0;
        for (int64_t bp = 0; bp < bpairs; ++bp) {
          const uint16_t* b0 = s.panel.data() + 2 * bp * steps * 512;
          const uint16_t* b1 = b0 + steps * 512;
          float* keep = cacc_n ? s.cacc.data() + (bp * pairs + tp) * 4 * 256 : nullptr;
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
            _tile_loadd(4, a0 + k * 512, 64);
            _tile_loadd(6, b0 + k * 512, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_loadd(7, b1 + k * 512, 64);
            _tile_dpbf16ps(2, 4, 7);
            if (two) {
              _tile_loadd(5, a1 + k * 512, 64);
              _tile_dpbf16ps(1, 5, 6);
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
          // Tile 0: tokens t0.., B tile 2bp; 2: B tile 2bp + 1; 1 and 3: tokens t0 + 16...
          if (up) {
            const int64_t r = p0 + 16 * bp, nq = std::min<int64_t>(16, nr - 16 * bp);
            _tile_stored(0, s.c4[0], 64);
            _tile_stored(2, s.c4[2], 64);
            store_glu(s.c4[0], s.c4[2], r, nq, t0, nt0, y, ldy, stream);
            if (two) {
              _tile_stored(1, s.c4[1], 64);
              _tile_stored(3, s.c4[3], 64);
              store_glu(s.c4[1], s.c4[3], r, nq, t0 + 16, nt1, y, ldy, stream);
            }
            continue;
          }
          const int64_t q0 = 32 * bp, nq = std::min<int64_t>(32, nr - q0);
          const int64_t nq0 = std::min<int64_t>(16, nq), nq1 = nq - nq0;
          store_c(0, s.c4[0], p0 + q0, nq0, t0, nt0, y, ldy, stream);
          if (nq1 > 0) store_c(2, s.c4[0], p0 + q0 + 16, nq1, t0, nt0, y, ldy, stream);
          if (two) {
            store_c(1, s.c4[0], p0 + q0, nq0, t0 + 16, nt1, y, ldy, stream);
            if (nq1 > 0) store_c(3, s.c4[0], p0 + q0 + 16, nq1, t0 + 16, nt1, y, ldy, stream);
          }
        }
      }
    }
  }
  _tile_release();
  if (stream) _mm_sfence();
}

}  // namespace

void amx_rows(const PackedWeight& w, const AmxAct& a, int64_t r0, int64_t r1, float* y,
              int64_t ldy) {
  rows_impl(w, nullptr, a, r0, r1, y, ldy);
}

void amx_rows_swiglu(const PackedWeight& gate, const PackedWeight& up, const AmxAct& a,
                     int64_t r0, int64_t r1, float* y, int64_t ldy) {
  rows_impl(gate, &up, a, r0, r1, y, ldy);
}

}  // namespace scn::inference::cpu
