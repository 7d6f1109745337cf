// AVX-512 VNNI matrix-vector kernel for quantized weights (one token, the
// decode path). Same arithmetic as the tiles of matmul_avx512.cpp (int32
// block dot products by vpdpbusd, block scales applied once per lane
// group), arranged for a weight streamed once from memory: the group's
// activations are loaded once into registers and reused by 4 rows, every
// row keeps two independent accumulator chains, the row loop is unrolled
// (accumulators stay in registers) and Q4 high nibbles are used in place
// (x16, folded out by one shift per group).
#include <immintrin.h>

#include <utility>

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "inference/backend/cpu/matmul_avx512_common.h"
#include "inference/backend/cpu/matmul_kernels.h"

namespace scn::inference::cpu {
namespace {

using namespace avx512;

constexpr int kRows = 4;

// prefetcht0 as an asm statement: GCC 12 dropped _mm_prefetch calls from
// the unrolled full-group path (a Q4_0 stream then reached 55% of the
// read rate instead of 84%).
inline void prefetch_line(const uint8_t* p) {
  asm volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char*>(p)));
}

// Calls fn(std::integral_constant<int, i>) for i in [0, N): unrolled, with
// constant indices, so per-row arrays stay in registers.
template <int N, class Fn>
inline void unroll(Fn&& fn) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (fn(std::integral_constant<int, I>{}), ...);
  }(std::make_integer_sequence<int, N>{});
}

// Row dot products of one group: lane j = block j's integer dot product,
// in two accumulator chains. The chunk loops stay rolled on purpose: one
// load instruction walking the row at a fixed stride lets the core's
// per-instruction stride prefetcher run ahead of the stream; fully
// unrolled (a load instruction per chunk) the same kernel streamed 20-25%
// slower from DRAM although it ran faster from L2.
template <int kBits, ScaleKind kS, bool kFull>
[[gnu::always_inline]] inline __m512i row_dot(const uint8_t* gp, int g, __mmask64 bm,
                                              size_t sb, size_t pb, const __m512i* qa) {
  constexpr int kChunks = (kS == ScaleKind::kK6 ? 16 : 32) / 4;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const uint8_t* p0 = gp + sb;
  const uint8_t* p1 = p0 + pb;
  __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
  if constexpr (kBits == 8) {
#pragma GCC unroll 1
    for (int c = 0; c < kChunks; c += 2) {
      a0 = _mm512_dpbusd_epi32(a0, load_bytes<kFull>(bm, p0 + c * 4 * g), qa[c]);
      a1 = _mm512_dpbusd_epi32(a1, load_bytes<kFull>(bm, p0 + (c + 1) * 4 * g), qa[c + 1]);
    }
    return _mm512_add_epi32(a0, a1);
  } else if constexpr (kBits == 4) {
    // High nibbles in place (16 u): a1 is 16x their dot product.
#pragma GCC unroll 1
    for (int p = 0; p < kChunks / 2; ++p) {
      const __m512i v = load_bytes<kFull>(bm, p0 + p * 4 * g);
      a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(v, m4), qa[2 * p]);
      a1 = _mm512_dpbusd_epi32(a1, _mm512_andnot_si512(m4, v), qa[2 * p + 1]);
    }
    return _mm512_add_epi32(a0, _mm512_srai_epi32(a1, 4));
  } else if constexpr (kBits == 5) {
#pragma GCC unroll 1
    for (int p = 0; p < kChunks / 2; ++p) {
      const __m512i v = load_bytes<kFull>(bm, p0 + p * 4 * g);
      uint64_t b0, b1;
      std::memcpy(&b0, p1 + 16 * p, 8);
      std::memcpy(&b1, p1 + 16 * p + 8, 8);
      const __m512i sixteen = _mm512_set1_epi8(0x10);
      __m512i lo = _mm512_and_si512(v, m4);
      __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(b0), lo, sixteen);
      hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(b1), hi, sixteen);
      a0 = _mm512_dpbusd_epi32(a0, lo, qa[2 * p]);
      a1 = _mm512_dpbusd_epi32(a1, hi, qa[2 * p + 1]);
    }
    return _mm512_add_epi32(a0, a1);
  } else {  // bits 6 (Q6_K: one quad of chunks per group, nothing to roll)
    __m512i h6 = _mm512_setzero_si512();
    unroll<kChunks / 2>([&](auto p) {
      const __m512i v = load_bytes<kFull>(bm, p0 + p * 4 * g);
      __m512i lo = _mm512_and_si512(v, m4);
      __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      // Chunk c's bits 4-5 sit at bits 2(c%4) of its quad's plane byte.
      const __m512i m30 = _mm512_set1_epi8(0x30);
      if constexpr (p % 2 == 0) {
        h6 = load_bytes<kFull>(bm, p1 + (p / 2) * 4 * g);
        lo = _mm512_ternarylogic_epi32(lo, _mm512_slli_epi16(h6, 4), m30, 0xF8);
        hi = _mm512_ternarylogic_epi32(hi, _mm512_slli_epi16(h6, 2), m30, 0xF8);
      } else {
        lo = _mm512_ternarylogic_epi32(lo, h6, m30, 0xF8);
        hi = _mm512_ternarylogic_epi32(hi, _mm512_srli_epi16(h6, 2), m30, 0xF8);
      }
      a0 = _mm512_dpbusd_epi32(a0, lo, qa[2 * p]);
      a1 = _mm512_dpbusd_epi32(a1, hi, qa[2 * p + 1]);
    });
    return _mm512_add_epi32(a0, a1);
  }
}

// One lane group of R rows: facc[r] += the group's contribution to row r.
template <int kBits, ScaleKind kS, int R, bool kFull>
inline void gemv_group(const uint8_t* const* rowp, const Group& grp, const int8_t* qg,
                       const float* ad, const float* as, int offset, __m512* facc) {
  constexpr int kBs = kS == ScaleKind::kK6 ? 16 : 32;
  constexpr int kChunks = kBs / 4;
  const int g = kFull ? 16 : grp.g;
  const __mmask64 bm = kFull ? ~0ull : ((1ull << (4 * g)) - 1);
  const __mmask16 lm = kFull ? 0xFFFF : static_cast<__mmask16>((1u << g) - 1);
  const size_t sb = sec_bytes<kBits, kS>(0, g), pb = sec_bytes<kBits, kS>(1, g);
  const size_t gbytes = sb + pb + sec_bytes<kBits, kS>(2, g);
  const uint8_t* gp[R];
  unroll<R>([&](auto r) { gp[r] = rowp[r] + grp.offset; });
  // The matrix-vector product streams the weight once: fetch ahead of it.
  auto prefetch = [&](const uint8_t* p) {
    if constexpr (kFull) {
      constexpr size_t kLines = (sec_bytes<kBits, kS>(0, 16) + sec_bytes<kBits, kS>(1, 16) +
                                 sec_bytes<kBits, kS>(2, 16) + 63) / 64;
#pragma GCC unroll 8
      for (size_t l = 0; l < kLines; ++l) prefetch_line(p + kPrefetch + 64 * l);
    } else {
      for (size_t l = 0; l < gbytes; l += 64) prefetch_line(p + kPrefetch + l);
    }
  };
  unroll<R>([&](auto r) { prefetch(gp[r]); });
  // The activations are padded (ActQ), so whole-vector loads are safe;
  // lanes past g meet zero weight bytes.
  __m512i qa[kChunks];
  unroll<kChunks>([&](auto c) { qa[c] = _mm512_loadu_si512(qg + c * 4 * g); });
  // dot[r]: lane j = block j's integer dot product. Two chains per row.
  __m512i dot[R];
  unroll<R>([&](auto r) {
    dot[r] = row_dot<kBits, kS, kFull>(gp[r], g, bm, sb, pb, qa);
  });
  const __m512 da = _mm512_loadu_ps(ad), sa = _mm512_loadu_ps(as);
  if constexpr (kS == ScaleKind::kD || kS == ScaleKind::kK6) {
    // w = d_j (u - offset): y += d_j (da_j dot_j - offset sa_j).
    const __m512 so = _mm512_mul_ps(sa, _mm512_set1_ps(-static_cast<float>(offset)));
    unroll<R>([&](auto r) {
      __m512 dw;
      if constexpr (kS == ScaleKind::kD) {
        dw = _mm512_cvtph_ps(kFull ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(gp[r]))
                                   : _mm256_maskz_loadu_epi16(lm, gp[r]));
      } else {
        dw = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(gp[r])))),
                           _mm512_set1_ps(h2f(gp[r] + 16)));
      }
      facc[r] = _mm512_fmadd_ps(dw, _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), da, so), facc[r]);
    });
  } else if constexpr (kS == ScaleKind::kK4 && kFull) {
    // sc[16], mn[16], then fp16 d0 d1 dmin0 dmin1 (blocks 0-7, 8-15).
    const __m512i id = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i im = _mm512_add_epi32(id, _mm512_set1_epi32(2));
    unroll<R>([&](auto r) {
      const __m512 sc = _mm512_cvtepi32_ps(
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gp[r]))));
      const __m512 mn = _mm512_cvtepi32_ps(
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gp[r] + 16))));
      const __m512 dm = _mm512_castps128_ps512(
          _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(gp[r] + 32))));
      const __m512 dw = _mm512_mul_ps(sc, _mm512_permutexvar_ps(id, dm));
      const __m512 mw = _mm512_mul_ps(mn, _mm512_permutexvar_ps(im, dm));
      facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(dw, da), facc[r]);
      facc[r] = _mm512_fnmadd_ps(mw, sa, facc[r]);
    });
  } else {
    unroll<R>([&](auto r) {
      __m512 dw, cw;
      lane_scales<kS, kFull>(gp[r], g, lm, offset, &dw, &cw);
      facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(dw, da), facc[r]);
      facc[r] = _mm512_fmadd_ps(cw, sa, facc[r]);
    });
  }
}

template <int kBits, ScaleKind kS, int R>
void gemv_rows(const TileArgs& args, int64_t r0) {
  const PackedWeight& w = *args.w;
  const ActQ& a = *args.a;
  const int offset = w.format().offset;
  constexpr int kBs = kS == ScaleKind::kK6 ? 16 : 32;
  const uint8_t* rowp[R];
  for (int r = 0; r < R; ++r) rowp[r] = w.row(r0 + r);
  const int8_t* q = a.q_row(0);
  const float* ad = a.d_row(0);
  const float* as = a.s_row(0);
  __m512 facc[R];
  for (int r = 0; r < R; ++r) facc[r] = _mm512_setzero_ps();
  int64_t gi = 0;
  for (const Group& grp : w.groups()) {
    const int8_t* qg = q + static_cast<int64_t>(grp.block0) * kBs;
    if (grp.g == 16) gemv_group<kBits, kS, R, true>(rowp, grp, qg, ad + 16 * gi, as + 16 * gi, offset, facc);
    else gemv_group<kBits, kS, R, false>(rowp, grp, qg, ad + 16 * gi, as + 16 * gi, offset, facc);
    ++gi;
  }
  if constexpr (R == 4) {
    // Four horizontal sums at once. s01: 128-bit lanes 0-1 hold row 0's
    // partial sums, 2-3 row 1's; t: lane i holds row i's.
    const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(facc[0], facc[1], 0x44),
                                     _mm512_shuffle_f32x4(facc[0], facc[1], 0xEE));
    const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(facc[2], facc[3], 0x44),
                                     _mm512_shuffle_f32x4(facc[2], facc[3], 0xEE));
    const __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88),
                                   _mm512_shuffle_f32x4(s01, s23, 0xDD));
    const __m512 u = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4E));
    const __m512 v = _mm512_add_ps(u, _mm512_permute_ps(u, 0xB1));
    const __m128 out = _mm512_castps512_ps128(_mm512_permutexvar_ps(
        _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), v));
    _mm_storeu_ps(args.y + r0, out);
  } else {
    for (int r = 0; r < R; ++r) args.y[r0 + r] = _mm512_reduce_add_ps(facc[r]);
  }
}

template <int kBits, ScaleKind kS>
void gemv_t(const TileArgs& args, int64_t r0, int64_t r1) {
  int64_t r = r0;
  for (; r + kRows <= r1; r += kRows) gemv_rows<kBits, kS, kRows>(args, r);
  switch (r1 - r) {
    case 1: gemv_rows<kBits, kS, 1>(args, r); break;
    case 2: gemv_rows<kBits, kS, 2>(args, r); break;
    case 3: gemv_rows<kBits, kS, 3>(args, r); break;
    default: break;
  }
}

}  // namespace

void quant_gemv_avx512(const TileArgs& args, int64_t r0, int64_t r1) {
  const QuantFormat& f = args.w->format();
  switch (f.scales) {
    case ScaleKind::kD:
      if (f.bits == 8) return gemv_t<8, ScaleKind::kD>(args, r0, r1);
      if (f.bits == 4) return gemv_t<4, ScaleKind::kD>(args, r0, r1);
      return gemv_t<5, ScaleKind::kD>(args, r0, r1);
    case ScaleKind::kDM:
      if (f.bits == 4) return gemv_t<4, ScaleKind::kDM>(args, r0, r1);
      return gemv_t<5, ScaleKind::kDM>(args, r0, r1);
    case ScaleKind::kK4:
      if (f.bits == 4) return gemv_t<4, ScaleKind::kK4>(args, r0, r1);
      return gemv_t<5, ScaleKind::kK4>(args, r0, r1);
    case ScaleKind::kK6:
      return gemv_t<6, ScaleKind::kK6>(args, r0, r1);
  }
}

}  // namespace scn::inference::cpu
