// AVX2 (+FMA/F16C) kernels for CPUs without AVX-512. Same layout as the
// AVX-512 kernels, one half-group (8 blocks, 32 bytes of a chunk) per ymm;
// integer dot products with vpmaddubsw + vpmaddwd (values are ≤ 63, or for
// Q8_0 use the sign trick, so the int16 pair sums cannot saturate).
#include <immintrin.h>

// GCC 12's own undefined-vector intrinsics trip these warnings.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "inference/backend/cpu/matmul_kernels.h"

namespace scn::inference::cpu {
namespace {

constexpr int kTileRows = 2;
constexpr int kTileTokens = 2;

inline __m256i lane_mask(int lanes) {  // int32 lanes [0, lanes) set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), idx);
}

inline __m256i bytes_from_bits(uint32_t x) {  // 0xFF where bit i of x is set
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                         0x0101010101010101, 0x0000000000000000);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x)), shuf);
  b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

inline __m256i load_half(const uint8_t* p, __m256i lm) {
  return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), lm);
}

// Calls fn(c, u) for each chunk c of half h (blocks 8h..8h+7) of a group;
// u holds unsigned values, except for bits == 8 where it holds the signed
// int8 weights (Q8_0 stored as q ^ 0x80).
template <int kBits, int kChunks, class Fn>
inline void for_each_chunk(const uint8_t* p0, const uint8_t* p1, int g, int h, __m256i lm,
                           Fn&& fn) {
  const int off = 32 * h;
  if constexpr (kBits == 8) {
    for (int c = 0; c < kChunks; ++c) {
      const __m256i v = load_half(p0 + c * 4 * g + off, lm);
      fn(c, _mm256_and_si256(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))), lm));
    }
  } else {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int p = 0; p < kChunks / 2; ++p) {
      const __m256i v = load_half(p0 + p * 4 * g + off, lm);
      __m256i lo = _mm256_and_si256(v, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      if constexpr (kBits == 5) {
        uint64_t b0, b1;
        std::memcpy(&b0, p1 + 16 * p, 8);
        std::memcpy(&b1, p1 + 16 * p + 8, 8);
        const __m256i sixteen = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(lo, _mm256_and_si256(bytes_from_bits(static_cast<uint32_t>(b0 >> off)), sixteen));
        hi = _mm256_or_si256(hi, _mm256_and_si256(bytes_from_bits(static_cast<uint32_t>(b1 >> off)), sixteen));
      } else if constexpr (kBits == 6) {
        for (int k = 0; k < 2; ++k) {
          const int c = 2 * p + k;
          const __m256i hv = load_half(p1 + (c / 4) * 4 * g + off, lm);
          __m256i s;
          switch (c % 4) {
            case 0: s = _mm256_slli_epi16(hv, 4); break;
            case 1: s = _mm256_slli_epi16(hv, 2); break;
            case 2: s = hv; break;
            default: s = _mm256_srli_epi16(hv, 2); break;
          }
          s = _mm256_and_si256(s, _mm256_set1_epi8(0x30));
          if (k == 0) lo = _mm256_or_si256(lo, s); else hi = _mm256_or_si256(hi, s);
        }
      }
      fn(2 * p, lo);
      fn(2 * p + 1, hi);
    }
  }
}

inline float h2f(const uint8_t* p) { return _cvtsh_ss(load_u16(p)); }

template <ScaleKind kS, int kBits>
inline void lane_scales(const uint8_t* gp, int g, int h, __m256i lm, int offset, __m256* d,
                        __m256* c) {
  const __m256 fm = _mm256_castsi256_ps(lm);
  // Q8_0 is multiplied as signed int8 here, so it needs no offset correction.
  const float off = kBits == 8 ? 0.f : -static_cast<float>(offset);
  if constexpr (kS == ScaleKind::kD || kS == ScaleKind::kDM) {
    *d = _mm256_and_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gp + 16 * h))), fm);
    if constexpr (kS == ScaleKind::kD) {
      *c = _mm256_mul_ps(*d, _mm256_set1_ps(off));
    } else {
      *c = _mm256_and_ps(
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gp + 2 * g + 16 * h))), fm);
    }
  } else if constexpr (kS == ScaleKind::kK4) {
    const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(gp + 8 * h))));
    const __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(gp + g + 8 * h))));
    const uint8_t* sd = gp + 2 * g;
    *d = _mm256_mul_ps(sc, _mm256_set1_ps(h2f(sd + 2 * h)));
    *c = _mm256_mul_ps(mn, _mm256_set1_ps(-h2f(sd + g / 4 + 2 * h)));
  } else {  // kK6
    const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(gp + 8 * h))));
    *d = _mm256_mul_ps(sc, _mm256_set1_ps(h2f(gp + 16)));
    *c = _mm256_mul_ps(*d, _mm256_set1_ps(off));
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int kBits, ScaleKind kS, int R, int T>
void quant_rt(const TileArgs& args, int64_t r0, int64_t t0) {
  const PackedWeight& w = *args.w;
  const ActQ& a = *args.a;
  const QuantFormat& f = w.format();
  constexpr int kBs = kS == ScaleKind::kK6 ? 16 : 32;
  constexpr int kChunks = kBs / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 facc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) facc[r][t] = _mm256_setzero_ps();
  int gi = 0;
  for (const Group& grp : w.groups()) {
    const int g = grp.g;
    const size_t sb = scale_bytes(f, g), pb = plane0_bytes(f, g);
    for (int h = 0; h < 2 && 8 * h < g; ++h) {
      const __m256i lm = lane_mask(g - 8 * h);
      const int8_t* q[T];
      for (int t = 0; t < T; ++t)
        q[t] = a.q_row(t0 + t) + static_cast<int64_t>(grp.block0) * kBs + 32 * h;
      __m256 da[T], sa[T];
      for (int t = 0; t < T; ++t) {
        da[t] = _mm256_loadu_ps(a.d_row(t0 + t) + gi * 16 + 8 * h);
        sa[t] = _mm256_loadu_ps(a.s_row(t0 + t) + gi * 16 + 8 * h);
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* gp = w.row(r0 + r) + grp.offset;
        __m256i acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
        for_each_chunk<kBits, kChunks>(gp + sb, gp + sb + pb, g, h, lm, [&](int c, __m256i u) {
          for (int t = 0; t < T; ++t) {
            const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[t] + c * 4 * g));
            __m256i p16;
            if constexpr (kBits == 8) {
              p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(u, u), _mm256_sign_epi8(av, u));
            } else {
              p16 = _mm256_maddubs_epi16(u, av);
            }
            acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(p16, ones));
          }
        });
        __m256 dw, cw;
        lane_scales<kS, kBits>(gp, g, h, lm, f.offset, &dw, &cw);
        for (int t = 0; t < T; ++t) {
          facc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), _mm256_mul_ps(dw, da[t]), facc[r][t]);
          facc[r][t] = _mm256_fmadd_ps(cw, sa[t], facc[r][t]);
        }
      }
    }
    ++gi;
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) args.y[(t0 + t) * args.ldy + r0 + r] = hsum(facc[r][t]);
}

template <int kBits, ScaleKind kS>
void quant_tile_t(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t += kTileTokens) {
    const bool two_t = t1 - t >= 2;
    for (int64_t r = r0; r < r1; r += kTileRows) {
      const bool two_r = r1 - r >= 2;
      if (two_r && two_t) quant_rt<kBits, kS, 2, 2>(args, r, t);
      else if (two_r) quant_rt<kBits, kS, 2, 1>(args, r, t);
      else if (two_t) quant_rt<kBits, kS, 1, 2>(args, r, t);
      else quant_rt<kBits, kS, 1, 1>(args, r, t);
    }
  }
}

void quant_tile(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const QuantFormat& f = args.w->format();
  switch (f.scales) {
    case ScaleKind::kD:
      if (f.bits == 8) return quant_tile_t<8, ScaleKind::kD>(args, r0, r1, t0, t1);
      if (f.bits == 4) return quant_tile_t<4, ScaleKind::kD>(args, r0, r1, t0, t1);
      return quant_tile_t<5, ScaleKind::kD>(args, r0, r1, t0, t1);
    case ScaleKind::kDM:
      if (f.bits == 4) return quant_tile_t<4, ScaleKind::kDM>(args, r0, r1, t0, t1);
      return quant_tile_t<5, ScaleKind::kDM>(args, r0, r1, t0, t1);
    case ScaleKind::kK4:
      if (f.bits == 4) return quant_tile_t<4, ScaleKind::kK4>(args, r0, r1, t0, t1);
      return quant_tile_t<5, ScaleKind::kK4>(args, r0, r1, t0, t1);
    case ScaleKind::kK6:
      return quant_tile_t<6, ScaleKind::kK6>(args, r0, r1, t0, t1);
  }
}

// ---- float weights ---------------------------------------------------------

template <PackKind K>
inline __m256 load_w8(const uint8_t* row, int64_t i) {
  if constexpr (K == PackKind::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (K == PackKind::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  } else {
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i))), 16));
  }
}

template <PackKind K>
inline float load_w1(const uint8_t* row, int64_t i) {
  if constexpr (K == PackKind::kF32) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    return v;
  } else if constexpr (K == PackKind::kF16) {
    return h2f(row + 2 * i);
  } else {
    return bf16_to_float(load_u16(row + 2 * i));
  }
}

template <PackKind K, int R, int T>
void float_rt(const TileArgs& args, int64_t r0, int64_t t0) {
  const PackedWeight& w = *args.w;
  const int64_t cols = w.cols(), vec_end = cols / 8 * 8;
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < vec_end; i += 8) {
    __m256 x[T];
    for (int t = 0; t < T; ++t) x[t] = _mm256_loadu_ps(args.x + (t0 + t) * cols + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_w8<K>(w.row(r0 + r), i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, x[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      float s = hsum(acc[r][t]);
      for (int64_t i = vec_end; i < cols; ++i)
        s += load_w1<K>(w.row(r0 + r), i) * args.x[(t0 + t) * cols + i];
      args.y[(t0 + t) * args.ldy + r0 + r] = s;
    }
}

template <PackKind K>
void float_tile_t(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t += 2) {
    const bool two_t = t1 - t >= 2;
    for (int64_t r = r0; r < r1; r += 4) {
      const int64_t rr = std::min<int64_t>(4, r1 - r);
      if (rr == 4 && two_t) { float_rt<K, 4, 2>(args, r, t); continue; }
      if (rr == 4) { float_rt<K, 4, 1>(args, r, t); continue; }
      for (int64_t k = r; k < r + rr; ++k) {
        if (two_t) float_rt<K, 1, 2>(args, k, t); else float_rt<K, 1, 1>(args, k, t);
      }
    }
  }
}

void float_tile(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  switch (args.w->kind()) {
    case PackKind::kF16: return float_tile_t<PackKind::kF16>(args, r0, r1, t0, t1);
    case PackKind::kBF16: return float_tile_t<PackKind::kBF16>(args, r0, r1, t0, t1);
    default: return float_tile_t<PackKind::kF32>(args, r0, r1, t0, t1);
  }
}

}  // namespace

const Kernels& avx2_kernels() {
  static const Kernels k{quant_tile, float_tile, quantize_act_scalar};
  return k;
}

}  // namespace scn::inference::cpu
