// AMX int8 path for Q4_0, Q4_K and Q8_0 weights (see matmul_amx.h, "int8
// tiles for Q4_0, Q4_K and Q8_0"): the activations are the A operand
// (tokens x 32 int8 of one block), the weights the B operand, unpacked per
// panel of 16 rows from the GGUF blocks into the VNNI layout (8 rows of 16
// weight rows x 4 int8); one TDPBSSD per block and token tile, the int32
// tile scaled by the block scales into fp32 accumulators (lanes: weight
// rows) with AVX-512.
#include "inference/backend/cpu/matmul_amx.h"

#include <immintrin.h>

// GCC 12's own reduce/undefined intrinsics trip these warnings.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>
#include <utility>

#include "inference/backend/cpu/amx_act_quant.h"
#include "inference/backend/cpu/amx_tile_config.h"

namespace scn::inference::cpu {
namespace {

constexpr int64_t kChunk = 32;  // blocks unpacked at a time (16 KiB of B tiles)
constexpr int64_t kAhead = 3;   // tile products issued ahead of their scaling

// Tiles 0-1: A (w tokens x 32 int8), 2-3: B (8 rows x 16 weight rows x 4),
// 4-7: C (w tokens x 16 weight rows of int32); blocks take them in turn.
void configure_tiles(int64_t w) {
  AmxTileConfig cfg;
  for (int i = 0; i < 2; ++i) {
    cfg.colsb[i] = 32;
    cfg.rows[i] = static_cast<uint8_t>(w);
    cfg.colsb[2 + i] = 64;
    cfg.rows[2 + i] = 8;
  }
  for (int i = 4; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = static_cast<uint8_t>(w);
  }
  _tile_loadconfig(&cfg);
}

struct Scratch {
  AmxVector<int8_t> b;       // kChunk blocks x 512 bytes of B tiles (64-byte aligned)
  std::vector<float> dw, dm;  // kChunk blocks x 16: weight scales, mins
  std::vector<float> acc;     // token tiles x 16 x 16 (more than one tile)
};
thread_local Scratch tls;

inline __m512i nibbles_lo(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
inline __m512i nibbles_hi(__m512i v) {
  return _mm512_and_si512(_mm512_srli_epi32(v, 4), _mm512_set1_epi8(0x0F));
}
inline __m512 half_lo(__m512i v) {
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}
inline __m512 half_hi(__m512i v) {
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
}

// out[kk] lane r = dword kk of the 16 bytes at rp[r] + off (r < 16): a
// 16 x 4 transpose. Register g holds rows g, 4 + g, 8 + g, 12 + g in its
// 128-bit lanes, so that the two unpack stages leave the rows in order.
inline void load_t16x4(const uint8_t* const* rp, int64_t off, __m512i out[4]) {
  __m512i z[4];
  for (int g = 0; g < 4; ++g) {
    auto ld = [&](int r) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rp[r] + off)); };
    __m512i v = _mm512_castsi128_si512(ld(g));
    v = _mm512_inserti32x4(v, ld(4 + g), 1);
    v = _mm512_inserti32x4(v, ld(8 + g), 2);
    z[g] = _mm512_inserti32x4(v, ld(12 + g), 3);
  }
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  out[0] = _mm512_unpacklo_epi64(t0, t2);
  out[1] = _mm512_unpackhi_epi64(t0, t2);
  out[2] = _mm512_unpacklo_epi64(t1, t3);
  out[3] = _mm512_unpackhi_epi64(t1, t3);
}

// The fp16 at rp[r] + off of the 16 rows, as floats (built in registers:
// a vector load of scalar stores would stall on store forwarding).
inline __m512 load_d16(const uint8_t* const* rp, int64_t off) {
  auto u = [&](int r) { return static_cast<int>(*reinterpret_cast<const uint16_t*>(rp[r] + off)); };
  __m128i lo = _mm_cvtsi32_si128(u(0)), hi = _mm_cvtsi32_si128(u(8));
  lo = _mm_insert_epi16(lo, u(1), 1);
  hi = _mm_insert_epi16(hi, u(9), 1);
  lo = _mm_insert_epi16(lo, u(2), 2);
  hi = _mm_insert_epi16(hi, u(10), 2);
  lo = _mm_insert_epi16(lo, u(3), 3);
  hi = _mm_insert_epi16(hi, u(11), 3);
  lo = _mm_insert_epi16(lo, u(4), 4);
  hi = _mm_insert_epi16(hi, u(12), 4);
  lo = _mm_insert_epi16(lo, u(5), 5);
  hi = _mm_insert_epi16(hi, u(13), 5);
  lo = _mm_insert_epi16(lo, u(6), 6);
  hi = _mm_insert_epi16(hi, u(14), 6);
  lo = _mm_insert_epi16(lo, u(7), 7);
  hi = _mm_insert_epi16(hi, u(15), 7);
  return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
}

// Prefetches into L2 the bytes [pf, pf + len) (a share of the next panel).
inline void prefetch_l2(const uint8_t* pf, int64_t len) {
  for (int64_t l = 0; l < len; l += 64) _mm_prefetch(reinterpret_cast<const char*>(pf + l), _MM_HINT_T1);
}

// Unpack blocks [j0, j0 + nb) of the 16 rows rp[r] (rows past the panel's
// end point at its first row) into s: B tiles and scales (and mins for Q4_K).
void unpack_q4_0(const uint8_t* const* rp, int64_t j0, int64_t nb, Scratch& s,
                 const uint8_t* pf, int64_t pf_len) {
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t jj = 0; jj < nb; ++jj) {
    const int64_t o = (j0 + jj) * 18;
    prefetch_l2(pf + jj * pf_len, pf_len);
    int8_t* bt = s.b.data() + jj * 512;
    _mm512_storeu_ps(s.dw.data() + jj * 16, load_d16(rp, o));
    __m512i q[4];
    load_t16x4(rp, o + 2, q);
    for (int kk = 0; kk < 4; ++kk) {
      _mm512_storeu_si512(bt + kk * 64, _mm512_sub_epi8(nibbles_lo(q[kk]), eight));
      _mm512_storeu_si512(bt + (kk + 4) * 64, _mm512_sub_epi8(nibbles_hi(q[kk]), eight));
    }
  }
}

void unpack_q8_0(const uint8_t* const* rp, int64_t j0, int64_t nb, Scratch& s,
                 const uint8_t* pf, int64_t pf_len) {
  for (int64_t jj = 0; jj < nb; ++jj) {
    const int64_t o = (j0 + jj) * 34;
    prefetch_l2(pf + jj * pf_len, pf_len);
    int8_t* bt = s.b.data() + jj * 512;
    _mm512_storeu_ps(s.dw.data() + jj * 16, load_d16(rp, o));
    __m512i q[4];
    for (int h = 0; h < 2; ++h) {
      load_t16x4(rp, o + 2 + 16 * h, q);
      for (int kk = 0; kk < 4; ++kk) _mm512_storeu_si512(bt + (4 * h + kk) * 64, q[kk]);
    }
  }
}

// Q4_K: superblocks of 144 bytes (fp16 d, dmin, 12 bytes of 6-bit scales
// and mins, 128 bytes of nibbles); j0 and nb are multiples of 8.
void unpack_q4_k(const uint8_t* const* rp, int64_t j0, int64_t nb, Scratch& s,
                 const uint8_t* pf, int64_t pf_len) {
  const __m512i low6 = _mm512_set1_epi32(63), low4 = _mm512_set1_epi32(15);
  for (int64_t sb = 0; sb < nb / 8; ++sb) {
    const int64_t o = (j0 / 8 + sb) * 144;
    prefetch_l2(pf + sb * 8 * pf_len, 8 * pf_len);
    __m512i hq[4];  // d and dmin, then the 12 scale bytes
    load_t16x4(rp, o, hq);
    const __m512 d = half_lo(hq[0]), dmin = half_hi(hq[0]);
    auto byte = [&](int k) {
      return _mm512_and_si512(_mm512_srli_epi32(hq[1 + k / 4], 8 * (k % 4)), _mm512_set1_epi32(255));
    };
    for (int j = 0; j < 8; ++j) {
      __m512i sc, mn;
      if (j < 4) {
        sc = _mm512_and_si512(byte(j), low6);
        mn = _mm512_and_si512(byte(j + 4), low6);
      } else {
        sc = _mm512_or_si512(_mm512_and_si512(byte(j + 4), low4),
                             _mm512_slli_epi32(_mm512_srli_epi32(byte(j - 4), 6), 4));
        mn = _mm512_or_si512(_mm512_srli_epi32(byte(j + 4), 4),
                             _mm512_slli_epi32(_mm512_srli_epi32(byte(j), 6), 4));
      }
      const int64_t jj = sb * 8 + j;
      _mm512_storeu_ps(s.dw.data() + jj * 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)));
      _mm512_storeu_ps(s.dm.data() + jj * 16, _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mn)));
    }
    for (int c = 0; c < 4; ++c) {
      int8_t* lo = s.b.data() + (sb * 8 + 2 * c) * 512;
      int8_t* hi = lo + 512;
      __m512i q[4];
      for (int h = 0; h < 2; ++h) {
        load_t16x4(rp, o + 16 + 32 * c + 16 * h, q);
        for (int kk = 0; kk < 4; ++kk) {
          _mm512_storeu_si512(lo + (4 * h + kk) * 64, nibbles_lo(q[kk]));
          _mm512_storeu_si512(hi + (4 * h + kk) * 64, nibbles_hi(q[kk]));
        }
      }
    }
  }
}

// Blocks [0, nb) of the unpacked chunk (absolute block j0 + jj) for the W
// tokens of tile tt: acc[t] (lanes: the panel's weight rows) += C * scales.
template <int W, bool kMins>
void run_tiles(const AmxI8Act& a, Scratch& s, int64_t j0, int64_t nb, bool first, bool last,
               __mmask16 m, float* y, int64_t ldy, int64_t p0) {
  alignas(64) int32_t c[4][W][16];
  const int64_t blocks = a.blocks;
  for (int64_t tt = 0; tt < a.tiles; ++tt) {
    // Accumulators in registers (the loops over t unroll fully).
    __m512 acc[W];
    float* keep = s.acc.data() + tt * 256;
#pragma GCC unroll 16
    for (int t = 0; t < W; ++t) acc[t] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(keep + 16 * t);
    const int8_t* pa = a.q.data() + (tt * blocks + j0) * W * 32;
    const float* da = a.d.data() + (tt * blocks + j0) * 16;
    const float* sa = kMins ? a.s.data() + (tt * blocks + j0) * 16 : nullptr;
    // Block jj's product into C tile 4 + jj % 4, stored to c[jj % 4]; the
    // products run kAhead blocks ahead of the scaling so that the tile
    // unit's latency hides behind it.
    auto issue = [&](int64_t jj) {
      const int8_t* qa = pa + jj * W * 32;
      const int8_t* qb = s.b.data() + jj * 512;
      switch (jj & 3) {
#define SCN_I8_ISSUE(K, TA, TB, TC) \
  case K:                           \
    _tile_loadd(TA, qa, 32);        \
    _tile_loadd(TB, qb, 64);        \
    _tile_zero(TC);                 \
    _tile_dpbssd(TC, TA, TB);       \
    _tile_stored(TC, c[K], 64);     \
    break;
        SCN_I8_ISSUE(0, 0, 2, 4)
        SCN_I8_ISSUE(1, 1, 3, 5)
        SCN_I8_ISSUE(2, 0, 2, 6)
        SCN_I8_ISSUE(3, 1, 3, 7)
#undef SCN_I8_ISSUE
      }
    };
    for (int64_t jj = 0; jj < std::min<int64_t>(kAhead, nb); ++jj) issue(jj);
    for (int64_t jj = 0; jj < nb; ++jj) {
      if (jj + kAhead < nb) issue(jj + kAhead);
      const __m512 dw = _mm512_loadu_ps(s.dw.data() + jj * 16);
      const int32_t(*cj)[16] = c[jj & 3];
      if constexpr (kMins) {
        const __m512 dm = _mm512_loadu_ps(s.dm.data() + jj * 16);
#pragma GCC unroll 16
        for (int t = 0; t < W; ++t) {
          const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(cj[t])), dw);
          acc[t] = _mm512_fmadd_ps(v, _mm512_set1_ps(da[jj * 16 + t]), acc[t]);
          acc[t] = _mm512_fnmadd_ps(dm, _mm512_set1_ps(sa[jj * 16 + t]), acc[t]);
        }
      } else {
#pragma GCC unroll 16
        for (int t = 0; t < W; ++t) {
          const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(cj[t])), dw);
          acc[t] = _mm512_fmadd_ps(v, _mm512_set1_ps(da[jj * 16 + t]), acc[t]);
        }
      }
    }
    if (last) {
      const int64_t nt = std::min<int64_t>(W, a.n - tt * 16);
#pragma GCC unroll 16
      for (int t = 0; t < W; ++t)
        if (t < nt) _mm512_mask_storeu_ps(y + (tt * 16 + t) * ldy + p0, m, acc[t]);
    } else {
#pragma GCC unroll 16
      for (int t = 0; t < W; ++t) _mm512_storeu_ps(keep + 16 * t, acc[t]);
    }
  }
}

using RunFn = void (*)(const AmxI8Act&, Scratch&, int64_t, int64_t, bool, bool, __mmask16, float*,
                       int64_t, int64_t);

template <bool kMins, int... Ws>
RunFn pick(int64_t w, std::integer_sequence<int, Ws...>) {
  RunFn fn = nullptr;
  ((w == Ws + 1 ? (fn = &run_tiles<Ws + 1, kMins>, 0) : 0), ...);
  return fn;
}

}  // namespace

bool amx_i8_applicable(const PackedWeight& w, int64_t n) {
  const GgmlType t = w.type();
  if (t != GgmlType::Q4_0 && t != GgmlType::Q4_K && t != GgmlType::Q8_0) return false;
  return w.original() != nullptr && n >= 2 && w.cols() % 32 == 0 && amx_int8_usable();
}

bool amx_i8_preferred(const PackedWeight& w, int64_t n) {
  return amx_i8_applicable(w, n) && w.type() != GgmlType::Q8_0 && n >= kAmxI8MinTokens &&
         n < kAmxMinTokens;
}

void amx_i8_prepare_act(const PackedWeight& w, int64_t n, AmxI8Act* a) {
  a->n = n;
  a->cols = w.cols();
  a->blocks = w.cols() / 32;
  a->width = std::min<int64_t>(n, 16);
  a->tiles = (n + 15) / 16;
  a->mins = w.type() == GgmlType::Q4_K;
  const size_t qn = static_cast<size_t>(a->tiles * a->blocks * a->width * 32);
  const size_t dn = static_cast<size_t>(a->tiles * a->blocks * 16);
  if (a->q.size() < qn) a->q.resize(qn);
  a->d.assign(dn, 0.f);
  if (a->mins) a->s.assign(dn, 0.f);
  // Padding tokens of the last tile: zero activations (zero scales above).
  for (int64_t t = n; t < a->tiles * a->width; ++t)
    for (int64_t j = 0; j < a->blocks; ++j)
      std::memset(a->q.data() + ((t / 16 * a->blocks + j) * a->width + t % 16) * 32, 0, 32);
}

void amx_i8_quantize_act(const float* x, int64_t t0, int64_t t1, AmxI8Act* a) {
  const int64_t cols = a->cols, blocks = a->blocks, wd = a->width;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * cols;
    const int64_t tt = t / 16, r = t % 16;
    for (int64_t j = 0; j < blocks; ++j) {
      const Q8Block b = quantize_q8_block(xt + 32 * j);
      int8_t* qt = a->q.data() + ((tt * blocks + j) * wd + r) * 32;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qt), _mm512_cvtepi32_epi8(b.q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qt + 16), _mm512_cvtepi32_epi8(b.q1));
      const int64_t di = (tt * blocks + j) * 16 + r;
      a->d[di] = b.d;
      if (a->mins)
        a->s[di] = b.d * static_cast<float>(_mm512_reduce_add_epi32(_mm512_add_epi32(b.q0, b.q1)));
    }
  }
}

void amx_i8_rows(const PackedWeight& w, const AmxI8Act& a, int64_t r0, int64_t r1, float* y,
                 int64_t ldy) {
  if (r0 >= r1 || a.n <= 0) return;
  const GgmlType type = w.type();
  const bool kq = type == GgmlType::Q4_K;
  RunFn run = kq ? pick<true>(a.width, std::make_integer_sequence<int, 16>{})
                 : pick<false>(a.width, std::make_integer_sequence<int, 16>{});
  configure_tiles(a.width);
  Scratch& s = tls;
  if (s.b.size() < static_cast<size_t>(kChunk * 512)) {
    s.b.resize(kChunk * 512);
    s.dw.resize(kChunk * 16);
    s.dm.resize(kChunk * 16);
  }
  const size_t accn = static_cast<size_t>(a.tiles * 256);
  if (s.acc.size() < accn) s.acc.resize(accn);
  const int64_t stride = static_cast<int64_t>(row_size(type, w.cols()));
  const auto* base = static_cast<const uint8_t*>(w.original());
  const int64_t blocks = a.blocks;
  for (int64_t p0 = r0; p0 < r1; p0 += 16) {
    const int64_t nr = std::min<int64_t>(16, r1 - p0);
    const __mmask16 m = nr == 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1);
    const uint8_t* pw = base + p0 * stride;
    const uint8_t* rp[16];
    for (int64_t r = 0; r < 16; ++r) rp[r] = r < nr ? pw + r * stride : pw;
    // The next panel (contiguous rows) into L2 while this one is computed,
    // an equal share per block (none past the range).
    const int64_t next_bytes = p0 + 16 < r1 ? std::min<int64_t>(16, r1 - p0 - 16) * stride : 0;
    const int64_t per_block = next_bytes > 0 ? (next_bytes + blocks - 1) / blocks : 0;
    for (int64_t j0 = 0; j0 < blocks; j0 += kChunk) {
      const int64_t nb = std::min<int64_t>(kChunk, blocks - j0);
      const uint8_t* pf = pw + 16 * stride + j0 * per_block;
      switch (type) {
        case GgmlType::Q4_0: unpack_q4_0(rp, j0, nb, s, pf, per_block); break;
        case GgmlType::Q8_0: unpack_q8_0(rp, j0, nb, s, pf, per_block); break;
        default: unpack_q4_k(rp, j0, nb, s, pf, per_block); break;
      }
      run(a, s, j0, nb, j0 == 0, j0 + nb >= blocks, m, y, ldy, p0);
    }
  }
  _tile_release();
}

}  // namespace scn::inference::cpu
