// AVX-512 (F/BW/VL/DQ + VNNI) kernels. Quantized weights: one zmm holds 4
// values of each of a group's 16 blocks, vpdpbusd accumulates block j's
// integer dot product in lane j, and the block scales are applied once per
// group with two FMAs. Register tiles of up to 4 rows x 3 tokens reuse each
// unpacked weight vector for every token of the tile.
#include <immintrin.h>

// GCC 12's own reduce/undefined intrinsics trip these warnings.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "inference/backend/cpu/matmul_avx512_common.h"
#include "inference/backend/cpu/matmul_kernels.h"

namespace scn::inference::cpu {
namespace {

using namespace avx512;

// 4 x 3 tiles: 12 int32 + 12 float accumulators, the rest for operands.
constexpr int kTileRows = 4;
constexpr int kTileTokens = 3;

template <int kBits, ScaleKind kS, int R, int T>
void quant_rt(const TileArgs& args, int64_t r0, int64_t t0) {
  const PackedWeight& w = *args.w;
  const ActQ& a = *args.a;
  const QuantFormat& f = w.format();
  constexpr int kBs = kS == ScaleKind::kK6 ? 16 : 32;
  constexpr int kChunks = kBs / 4;
  const uint8_t* rowp[R];
  for (int r = 0; r < R; ++r) rowp[r] = w.row(r0 + r);
  __m512 facc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) facc[r][t] = _mm512_setzero_ps();
  // One group; kFull (g == 16, all but possibly the last group of a row)
  // makes the sizes constants and the loads unmasked.
  auto group = [&]<bool kFull>(const Group& grp, int gi) {
    const int g = kFull ? 16 : grp.g;
    const __mmask64 bm = kFull ? ~0ull : ((1ull << (4 * g)) - 1);
    const __mmask16 lm = kFull ? 0xFFFF : static_cast<__mmask16>((1u << g) - 1);
    const size_t sb = sec_bytes<kBits, kS>(0, g), pb = sec_bytes<kBits, kS>(1, g);
    const size_t gbytes = sb + pb + sec_bytes<kBits, kS>(2, g);
    const int8_t* q[T];
    for (int t = 0; t < T; ++t) q[t] = a.q_row(t0 + t) + static_cast<int64_t>(grp.block0) * kBs;
    __m512i acc[R][T];
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
      const uint8_t* gp = rowp[r] + grp.offset;
      if constexpr (T == 1) {
        // The matrix-vector path streams the weight once: fetch ahead of it
        // (rows of a thread's range are contiguous).
        for (size_t l = 0; l < gbytes; l += 64)
          _mm_prefetch(reinterpret_cast<const char*>(gp + kPrefetch + l), _MM_HINT_T0);
      }
      for_each_chunk<kBits, kChunks, kFull>(gp + sb, gp + sb + pb, g, bm, [&](int c, __m512i u) {
        for (int t = 0; t < T; ++t)
          acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], u, _mm512_loadu_si512(q[t] + c * 4 * g));
      });
    }
    __m512 da[T], sa[T];
    for (int t = 0; t < T; ++t) {
      da[t] = _mm512_loadu_ps(a.d_row(t0 + t) + gi * 16);
      sa[t] = _mm512_loadu_ps(a.s_row(t0 + t) + gi * 16);
    }
    for (int r = 0; r < R; ++r) {
      __m512 dw, cw;
      lane_scales<kS, kFull>(rowp[r] + grp.offset, g, lm, f.offset, &dw, &cw);
      for (int t = 0; t < T; ++t) {
        facc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][t]), _mm512_mul_ps(dw, da[t]),
                                     facc[r][t]);
        facc[r][t] = _mm512_fmadd_ps(cw, sa[t], facc[r][t]);
      }
    }
  };
  int gi = 0;
  for (const Group& grp : w.groups()) {
    if (grp.g == 16) group.template operator()<true>(grp, gi);
    else group.template operator()<false>(grp, gi);
    ++gi;
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) args.y[(t0 + t) * args.ldy + r0 + r] = _mm512_reduce_add_ps(facc[r][t]);
}

template <int kBits, ScaleKind kS, int R>
void quant_r(const TileArgs& args, int64_t r0, int64_t t0, int64_t tt) {
  switch (tt) {
    case 1: quant_rt<kBits, kS, R, 1>(args, r0, t0); break;
    case 2: quant_rt<kBits, kS, R, 2>(args, r0, t0); break;
    case 3: quant_rt<kBits, kS, R, 3>(args, r0, t0); break;
    default: quant_rt<kBits, kS, R, kTileTokens>(args, r0, t0); break;
  }
}

template <int kBits, ScaleKind kS>
void quant_tile_t(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t += kTileTokens) {
    const int64_t tt = std::min<int64_t>(kTileTokens, t1 - t);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      switch (std::min<int64_t>(kTileRows, r1 - r)) {
        case 1: quant_r<kBits, kS, 1>(args, r, t, tt); break;
        case 2: quant_r<kBits, kS, 2>(args, r, t, tt); break;
        case 3: quant_r<kBits, kS, 3>(args, r, t, tt); break;
        default: quant_r<kBits, kS, kTileRows>(args, r, t, tt); break;
      }
    }
  }
}

void quant_tile(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (args.a->n == 1 && t0 == 0 && t1 == 1) return quant_gemv_avx512(args, r0, r1);
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
inline __m512 load_w(const uint8_t* row, int64_t i, __mmask16 m) {
  if constexpr (K == PackKind::kF32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  } else if constexpr (K == PackKind::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * i));
  } else {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + 2 * i)), 16));
  }
}

template <PackKind K, int R, int T>
void float_rt(const TileArgs& args, int64_t r0, int64_t t0) {
  const PackedWeight& w = *args.w;
  const int64_t cols = w.cols();
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < cols; i += 16) {
    const __mmask16 m = cols - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (cols - i)) - 1);
    __m512 x[T];
    for (int t = 0; t < T; ++t) x[t] = _mm512_maskz_loadu_ps(m, args.x + (t0 + t) * cols + i);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w<K>(w.row(r0 + r), i, m);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, x[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) args.y[(t0 + t) * args.ldy + r0 + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <PackKind K, int R>
void float_r(const TileArgs& args, int64_t r0, int64_t t0, int64_t tt) {
  switch (tt) {
    case 1: float_rt<K, R, 1>(args, r0, t0); break;
    case 2: float_rt<K, R, 2>(args, r0, t0); break;
    default: float_rt<K, R, 3>(args, r0, t0); break;
  }
}

template <PackKind K>
void float_tile_t(const TileArgs& args, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t += kTileTokens) {
    const int64_t tt = std::min<int64_t>(kTileTokens, t1 - t);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      switch (std::min<int64_t>(kTileRows, r1 - r)) {
        case 1: float_r<K, 1>(args, r, t, tt); break;
        case 2: float_r<K, 2>(args, r, t, tt); break;
        case 3: float_r<K, 3>(args, r, t, tt); break;
        default: float_r<K, 4>(args, r, t, tt); break;
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

// ---- activation quantization -----------------------------------------------

void quantize_act(const PackedWeight& w, const float* x, int64_t t0, int64_t t1, ActQ* a) {
  const int bs = w.format().bs;
  const int64_t cols = w.cols();
  const __m512 sign = _mm512_set1_ps(-0.f);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * cols;
    int8_t* q = a->q.data() + t * a->q_stride;
    float* d = a->d.data() + t * a->f_stride;
    float* s = a->s.data() + t * a->f_stride;
    int gi = 0;
    for (const Group& grp : w.groups()) {
      const int g = grp.g;
      int8_t* qg = q + static_cast<int64_t>(grp.block0) * bs;
      alignas(64) float dd[16] = {}, ss[16] = {};
      for (int j = 0; j < g; ++j) {
        const float* xb = xr + (static_cast<int64_t>(grp.block0) + j) * bs;
        const __m512 x0 = _mm512_loadu_ps(xb);
        const __m512 x1 = bs == 32 ? _mm512_loadu_ps(xb + 16) : _mm512_setzero_ps();
        const float amax = _mm512_reduce_max_ps(
            _mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_andnot_ps(sign, x1)));
        const float id = amax > 0.f ? 127.f / amax : 0.f;
        const __m512 vid = _mm512_set1_ps(id);
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, vid));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid));
        dd[j] = amax / 127.f;
        ss[j] = dd[j] * static_cast<float>(_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1)));
        alignas(16) int32_t b[8];
        _mm_store_si128(reinterpret_cast<__m128i*>(b), _mm512_cvtepi32_epi8(i0));
        _mm_store_si128(reinterpret_cast<__m128i*>(b + 4), _mm512_cvtepi32_epi8(i1));
        for (int c = 0; c < bs / 4; ++c) std::memcpy(qg + c * 4 * g + 4 * j, b + c, 4);
      }
      std::memcpy(d + gi * 16, dd, sizeof dd);
      std::memcpy(s + gi * 16, ss, sizeof ss);
      ++gi;
    }
  }
}

// Row r of w as floats in packed order (see decode_row_packed_avx512).
template <int kBits, ScaleKind kS>
void decode_row_t(const PackedWeight& w, int64_t r, float* out) {
  const QuantFormat& f = w.format();
  constexpr int kBs = kS == ScaleKind::kK6 ? 16 : 32;
  constexpr int kChunks = kBs / 4;
  const uint8_t* row = w.row(r);
  for (const Group& grp : w.groups()) {
    const int g = grp.g;
    const __mmask64 bm = g == 16 ? ~0ull : ((1ull << (4 * g)) - 1);
    const __mmask16 lm = static_cast<__mmask16>((1u << g) - 1);
    const uint8_t* gp = row + grp.offset;
    const size_t sb = scale_bytes(f, g), pb = plane0_bytes(f, g);
    __m512 d, c;
    lane_scales<kS>(gp, g, lm, f.offset, &d, &c);
    // Byte i of quarter q of a chunk belongs to block 4q + i/4.
    __m512 dq[4], cq[4];
    for (int q = 0; q < 4; ++q) {
      const __m512i idx = _mm512_add_epi32(
          _mm512_set1_epi32(4 * q),
          _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2));
      dq[q] = _mm512_permutexvar_ps(idx, d);
      cq[q] = _mm512_permutexvar_ps(idx, c);
    }
    float* og = out + static_cast<int64_t>(grp.block0) * kBs;
    const int len = 4 * g;  // values per chunk
    for_each_chunk<kBits, kChunks>(gp + sb, gp + sb + pb, g, bm, [&](int ch, __m512i u) {
      float* oc = og + ch * len;
      for (int q = 0; q < 4 && 16 * q < len; ++q) {
        const __m128i b = q == 0 ? _mm512_castsi512_si128(u)
                          : q == 1 ? _mm512_extracti32x4_epi32(u, 1)
                          : q == 2 ? _mm512_extracti32x4_epi32(u, 2)
                                   : _mm512_extracti32x4_epi32(u, 3);
        const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), dq[q], cq[q]);
        const int left = len - 16 * q;
        _mm512_mask_storeu_ps(oc + 16 * q, left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1), v);
      }
    });
  }
}

}  // namespace

void decode_row_packed_avx512(const PackedWeight& w, int64_t r, float* out) {
  const QuantFormat& f = w.format();
  switch (f.scales) {
    case ScaleKind::kD:
      if (f.bits == 8) return decode_row_t<8, ScaleKind::kD>(w, r, out);
      if (f.bits == 4) return decode_row_t<4, ScaleKind::kD>(w, r, out);
      return decode_row_t<5, ScaleKind::kD>(w, r, out);
    case ScaleKind::kDM:
      if (f.bits == 4) return decode_row_t<4, ScaleKind::kDM>(w, r, out);
      return decode_row_t<5, ScaleKind::kDM>(w, r, out);
    case ScaleKind::kK4:
      if (f.bits == 4) return decode_row_t<4, ScaleKind::kK4>(w, r, out);
      return decode_row_t<5, ScaleKind::kK4>(w, r, out);
    case ScaleKind::kK6:
      return decode_row_t<6, ScaleKind::kK6>(w, r, out);
  }
}

const Kernels& avx512_kernels() {
  static const Kernels k{quant_tile, float_tile, quantize_act};
  return k;
}

}  // namespace scn::inference::cpu
