// AVX-512 helpers shared by the quantized kernels of matmul_avx512.cpp and
// matmul_gemv_avx512.cpp: loading a lane group's values (packed_weight.h
// layout) chunk by chunk and its per-lane scales. Include only from
// *_avx512.cpp files (they are compiled with the AVX-512 flags and called
// after a cpuid check).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "inference/backend/cpu/packed_weight.h"

namespace scn::inference::cpu::avx512 {

// Bytes ahead of the current group that the matrix-vector paths prefetch
// (both kernels' rows of a thread's chunk are contiguous, so this runs ahead
// of the stream): one core needs about this much in flight to stream at its
// share of the memory bandwidth (measured: 4 KiB left a 2-thread q4_0 stream
// at ~21 GB/s, 12 KiB reached ~28 GB/s).
inline constexpr size_t kPrefetch = 12288;

// 64 bytes at p: plain loads for full groups (g == 16), masked otherwise.
template <bool kFull>
inline __m512i load_bytes(__mmask64 bm, const uint8_t* p) {
  if constexpr (kFull) return _mm512_loadu_si512(p);
  else return _mm512_maskz_loadu_epi8(bm, p);
}

template <bool kFull>
inline __m512i high_bits(const uint8_t* p1, int c, int g, __mmask64 bm) {
  // bits 6: value bits 4-5 of chunk c from the 2-bit plane, already at bits 4-5.
  const __m512i h = load_bytes<kFull>(bm, p1 + (c / 4) * 4 * g);
  __m512i s;
  switch (c % 4) {
    case 0: s = _mm512_slli_epi16(h, 4); break;
    case 1: s = _mm512_slli_epi16(h, 2); break;
    case 2: s = h; break;
    default: s = _mm512_srli_epi16(h, 2); break;
  }
  return _mm512_and_si512(s, _mm512_set1_epi8(0x30));
}

// Calls fn(c, u) with the unsigned values of chunk c of a group (kFull: g == 16).
template <int kBits, int kChunks, bool kFull = false, class Fn>
inline void for_each_chunk(const uint8_t* p0, const uint8_t* p1, int g, __mmask64 bm, Fn&& fn) {
  if constexpr (kBits == 8) {
    for (int c = 0; c < kChunks; ++c) fn(c, load_bytes<kFull>(bm, p0 + c * 4 * g));
  } else {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int p = 0; p < kChunks / 2; ++p) {
      const __m512i v = load_bytes<kFull>(bm, p0 + p * 4 * g);
      __m512i lo = _mm512_and_si512(v, m4);
      __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      if constexpr (kBits == 5) {
        uint64_t b0, b1;
        std::memcpy(&b0, p1 + 16 * p, 8);
        std::memcpy(&b1, p1 + 16 * p + 8, 8);
        const __m512i sixteen = _mm512_set1_epi8(0x10);
        lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(b0), lo, sixteen);
        hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(b1), hi, sixteen);
      } else if constexpr (kBits == 6) {
        lo = _mm512_or_si512(lo, high_bits<kFull>(p1, 2 * p, g, bm));
        hi = _mm512_or_si512(hi, high_bits<kFull>(p1, 2 * p + 1, g, bm));
      }
      fn(2 * p, lo);
      fn(2 * p + 1, hi);
    }
  }
}

// Group section sizes (scale_bytes, plane0_bytes, plane1_bytes) for a
// format known at compile time, so full groups get constant offsets.
template <int kBits, ScaleKind kS>
constexpr size_t sec_bytes(int sec, int g) {
  constexpr size_t bs = kS == ScaleKind::kK6 ? 16 : 32;
  const size_t ug = static_cast<size_t>(g);
  if (sec == 0) {
    switch (kS) {
      case ScaleKind::kD: return 2 * ug;
      case ScaleKind::kDM: return 4 * ug;
      case ScaleKind::kK4: return 2 * ug + ug / 2;
      case ScaleKind::kK6: return 18;
    }
  }
  if (sec == 1) return kBits == 8 ? bs * ug : bs * ug / 2;
  if (kBits == 5) return 8 * (bs / 4);
  if (kBits == 6) return bs * ug / 4;
  return 0;
}

inline float h2f(const uint8_t* p) { return _cvtsh_ss(load_u16(p)); }

// Lane scales d_j and corrections c_j = m_j - offset * d_j of a group.
template <ScaleKind kS, bool kFull = false>
inline void lane_scales(const uint8_t* gp, int g, __mmask16 lm, int offset, __m512* d,
                        __m512* c) {
  if constexpr (kS == ScaleKind::kD || kS == ScaleKind::kDM) {
    *d = _mm512_cvtph_ps(kFull ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(gp))
                               : _mm256_maskz_loadu_epi16(lm, gp));
    if constexpr (kS == ScaleKind::kD) {
      *c = _mm512_mul_ps(*d, _mm512_set1_ps(-static_cast<float>(offset)));
    } else {
      *c = _mm512_cvtph_ps(kFull ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(gp + 2 * g))
                                 : _mm256_maskz_loadu_epi16(lm, gp + 2 * g));
    }
  } else if constexpr (kS == ScaleKind::kK4) {
    const __m128i* ps = reinterpret_cast<const __m128i*>(gp);
    const __m128i* pm = reinterpret_cast<const __m128i*>(gp + g);
    const __m512 sc = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(kFull ? _mm_loadu_si128(ps) : _mm_maskz_loadu_epi8(lm, gp)));
    const __m512 mn = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(kFull ? _mm_loadu_si128(pm) : _mm_maskz_loadu_epi8(lm, gp + g)));
    const uint8_t* sd = gp + 2 * g;
    const uint8_t* sm = sd + g / 4;
    const float d0 = h2f(sd), d1 = g == 16 ? h2f(sd + 2) : 0.f;
    const float m0 = h2f(sm), m1 = g == 16 ? h2f(sm + 2) : 0.f;
    const __m512 dv = _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
    const __m512 mv = _mm512_insertf32x8(_mm512_set1_ps(-m0), _mm256_set1_ps(-m1), 1);
    *d = _mm512_mul_ps(sc, dv);
    *c = _mm512_mul_ps(mn, mv);
  } else {  // kK6
    const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
        reinterpret_cast<const __m128i*>(gp))));
    *d = _mm512_mul_ps(sc, _mm512_set1_ps(h2f(gp + 16)));
    *c = _mm512_mul_ps(*d, _mm512_set1_ps(-static_cast<float>(offset)));
  }
}

}  // namespace scn::inference::cpu::avx512
