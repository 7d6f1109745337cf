// AVX-512 kernels of the CPU ops (see ops_kernels.h). Compiled with the
// AVX-512 flags; reached only through ops_kernels() after a cpuid check.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics trip -Wuninitialized on their own
// _mm512_undefined_ps() (GCC bug 105593); the values are never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cmath>

#include "inference/backend/cpu/avx512_math.h"
#include "inference/backend/cpu/ops_kernels.h"

namespace scn::inference::cpu {

namespace {

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF)
                    : static_cast<__mmask16>((1u << left) - 1);
}

inline float dot(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void rms_norm_row(const float* x, const float* w, float* y, int64_t dim, float eps) {
  const float inv = 1.0f / std::sqrt(dot(x, x, dim) / static_cast<float>(dim) + eps);
  const __m512 vinv = _mm512_set1_ps(inv);
  for (int64_t i = 0; i < dim; i += 16) {
    const __mmask16 m = tail_mask(dim - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vinv);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = tail_mask(count - i);
    _mm512_mask_storeu_ps(out + i, m, silu_mul16(_mm512_maskz_loadu_ps(m, gate + i),
                                                 _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void add(float* x, const float* y, int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = tail_mask(count - i);
    _mm512_mask_storeu_ps(x + i, m,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// s[0, n) = exp(s - m) where m is their maximum; returns m and *sum.
float softmax_unnormalized(float* s, int64_t n, float* sum) {
  __m512 vmx = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; j += 16)
    vmx = _mm512_max_ps(vmx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - j), s + j));
  const float m = _mm512_reduce_max_ps(vmx);
  const __m512 vm = _mm512_set1_ps(m);
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm));
    vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(k, e));
    _mm512_mask_storeu_ps(s + j, k, e);
  }
  *sum = _mm512_reduce_add_ps(vsum);
  return m;
}

// The horizontal sums of a[0..15] as one vector (element u = Σ a[u]):
// transpose-and-add over 32-bit, 64-bit and 128-bit lanes.
inline __m512 reduce16(const __m512* a) {
  __m512 b[8], c[4];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                         _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512d x = _mm512_castps_pd(b[2 * i]), y = _mm512_castps_pd(b[2 * i + 1]);
    c[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  // c[i] lane l, element e: the sum over lane l of a[4i + e].
  const __m512 e0 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], 0x88), _mm512_shuffle_f32x4(c[0], c[1], 0xDD));
  const __m512 e1 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], 0x88), _mm512_shuffle_f32x4(c[2], c[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(e0, e1, 0x88), _mm512_shuffle_f32x4(e0, e1, 0xDD));
}

// Keys ahead of the current one whose K (V) rows attend prefetches: in
// decode the cache rows come from memory (the weights streamed since the
// last step evicted them), and the demand loads alone keep too few misses
// in flight (measured: 8.1% -> 7.7% of the decode profile, 0.5B Q4_0 at
// 512-640 keys).
constexpr int64_t kKeysAhead = 32;

// Prefetches the 16 * NV floats of rows [j0, j1) of x (stride floats apart).
template <int NV>
inline void prefetch_rows(const float* x, int64_t j0, int64_t j1, int64_t stride) {
  for (int64_t j = j0; j < j1; ++j)
#pragma GCC unroll 16
    for (int c = 0; c < NV; ++c)
      _mm_prefetch(reinterpret_cast<const char*>(x + j * stride + 16 * c), _MM_HINT_T0);
}

// scores[r][j] = scale * q_r · k_j for head size 16 * NV: 16 keys at a time,
// their dot products reduced together.
template <int NV>
void scores_nv(const float* q, const float* k, int64_t n_keys, int64_t kv_stride, int64_t n_rep,
               float scale, float* scores) {
  const __m512 vscale = _mm512_set1_ps(scale);
  int64_t j0 = 0;
  prefetch_rows<NV>(k, 0, std::min(n_keys, kKeysAhead), kv_stride);
  for (; j0 + 16 <= n_keys; j0 += 16) {
    prefetch_rows<NV>(k, std::min(n_keys, j0 + kKeysAhead), std::min(n_keys, j0 + kKeysAhead + 16),
                      kv_stride);
    for (int64_t r = 0; r < n_rep; ++r) {
      __m512 qv[NV];
      #pragma GCC unroll 16
      for (int c = 0; c < NV; ++c) qv[c] = _mm512_loadu_ps(q + r * 16 * NV + 16 * c);
      __m512 acc[16];
      #pragma GCC unroll 16
      for (int u = 0; u < 16; ++u) {
        const float* kj = k + (j0 + u) * kv_stride;
        __m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kj));
        #pragma GCC unroll 16
        for (int c = 1; c < NV; ++c) a = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(kj + 16 * c), a);
        acc[u] = a;
      }
      _mm512_storeu_ps(scores + r * n_keys + j0, _mm512_mul_ps(reduce16(acc), vscale));
    }
  }
  for (; j0 < n_keys; ++j0)
    for (int64_t r = 0; r < n_rep; ++r)
      scores[r * n_keys + j0] = scale * dot(q + r * 16 * NV, k + j0 * kv_stride, 16 * NV);
}


// acc[r][16*NV] = Σ_j p[r][j] v_j for RG heads r0 .. r0+RG-1 at once (RG * NV
// independent accumulators hide the FMA latency), over keys in blocks that
// stay in L1 while the heads pass over them: V is read from memory once.
template <int NV, int RG>
void weighted_sum_rows(const float* p_all, const float* v, int64_t n_keys, int64_t kv_stride,
                       int64_t r0, int64_t j0, int64_t j1, float* out) {
  __m512 acc[RG][NV];
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g)
#pragma GCC unroll 16
    for (int c = 0; c < NV; ++c)
      acc[g][c] = j0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out + (r0 + g) * NV * 16 + 16 * c);
  for (int64_t j = j0; j < j1; ++j) {
    const float* vj = v + j * kv_stride;
    __m512 vv[NV];
#pragma GCC unroll 16
    for (int c = 0; c < NV; ++c) vv[c] = _mm512_loadu_ps(vj + 16 * c);
#pragma GCC unroll 8
    for (int g = 0; g < RG; ++g) {
      const __m512 pj = _mm512_set1_ps(p_all[(r0 + g) * n_keys + j]);
#pragma GCC unroll 16
      for (int c = 0; c < NV; ++c) acc[g][c] = _mm512_fmadd_ps(pj, vv[c], acc[g][c]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g)
#pragma GCC unroll 16
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(out + (r0 + g) * NV * 16 + 16 * c, acc[g][c]);
}

template <int NV>
void weighted_sum(const float* p_all, const float* v, int64_t n_keys, int64_t kv_stride,
                  int64_t n_rep, float* out) {
  constexpr int kRows = NV >= 8 ? 2 : 16 / NV;  // 16 accumulators: V loads shared by kRows heads
  constexpr int64_t kBlock = 32;
  prefetch_rows<NV>(v, 0, std::min(n_keys, kBlock), kv_stride);
  for (int64_t j0 = 0; j0 < n_keys; j0 += kBlock) {
    const int64_t j1 = std::min(n_keys, j0 + kBlock);
    prefetch_rows<NV>(v, j1, std::min(n_keys, j1 + kBlock), kv_stride);
    int64_t r = 0;
    for (; r + kRows <= n_rep; r += kRows)
      weighted_sum_rows<NV, kRows>(p_all, v, n_keys, kv_stride, r, j0, j1, out);
    if constexpr (kRows >= 4) {
      for (; r + kRows / 2 <= n_rep; r += kRows / 2)
        weighted_sum_rows<NV, kRows / 2>(p_all, v, n_keys, kv_stride, r, j0, j1, out);
    }
    for (; r < n_rep; ++r) weighted_sum_rows<NV, 1>(p_all, v, n_keys, kv_stride, r, j0, j1, out);
  }
}

template <int NV>
void attend_nv(const float* q, const float* k, const float* v, int64_t n_keys, int64_t kv_stride,
               int64_t n_rep, float scale, float* scratch, float* acc, float* m, float* l) {
  scores_nv<NV>(q, k, n_keys, kv_stride, n_rep, scale, scratch);
  for (int64_t r = 0; r < n_rep; ++r) m[r] = softmax_unnormalized(scratch + r * n_keys, n_keys, &l[r]);
  weighted_sum<NV>(scratch, v, n_keys, kv_stride, n_rep, acc);
}

void attend(const float* q, const float* k, const float* v, int64_t n_keys, int64_t kv_stride,
            int64_t hd, int64_t n_rep, float scale, float* scratch, float* acc, float* m,
            float* l) {
  if (hd % 16 == 0) {
    switch (hd / 16) {  // the usual head sizes: whole vectors, kept in registers
      case 2: return attend_nv<2>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
      case 4: return attend_nv<4>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
      case 5: return attend_nv<5>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
      case 6: return attend_nv<6>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
      case 8: return attend_nv<8>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
      default: break;
    }
  }
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* kj = k + j * kv_stride;
    for (int64_t r = 0; r < n_rep; ++r) scratch[r * n_keys + j] = scale * dot(q + r * hd, kj, hd);
  }
  for (int64_t r = 0; r < n_rep; ++r) m[r] = softmax_unnormalized(scratch + r * n_keys, n_keys, &l[r]);
  std::fill(acc, acc + n_rep * hd, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* vj = v + j * kv_stride;
    for (int64_t r = 0; r < n_rep; ++r) {
      const __m512 pj = _mm512_set1_ps(scratch[r * n_keys + j]);
      float* o = acc + r * hd;
      for (int64_t c = 0; c < hd; c += 16) {
        const __mmask16 mk = tail_mask(hd - c);
        _mm512_mask_storeu_ps(o + c, mk, _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(mk, vj + c),
                                                         _mm512_maskz_loadu_ps(mk, o + c)));
      }
    }
  }
}

// Scores of 8 query rows against 16 keys whose K block is transposed
// (kt[c][16]): broadcast-FMA, no horizontal sums. rows[i] point at q rows.
inline void scores_8x16(const float* const* rows, const float* kt, int64_t hd, __m512 vscale,
                        float* const* out) {
  __m512 acc[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t c = 0; c < hd; ++c) {
    const __m512 kc = _mm512_loadu_ps(kt + 16 * c);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(rows[i][c]), kc, acc[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) _mm512_storeu_ps(out[i], _mm512_mul_ps(acc[i], vscale));
}

template <int NV>
void attend_block_nv(const float* q, int64_t q_stride, int64_t n_tok, int64_t pos0,
                     const float* kt, const float* v, int64_t kv_stride, int64_t n_rep,
                     float scale, float* scratch, float* out) {
  constexpr int64_t hd = 16 * NV;
  const int64_t rows = n_tok * n_rep, keys = pos0 + n_tok;
  const int64_t stride = keys + 16;  // scores row stride (room for a whole last key block)
  float* s = scratch;                // [rows][stride] scores, then probabilities
  float* acc = s + rows * stride;    // [rows][hd]
  float* lsum = acc + rows * hd;     // [rows]
  auto qrow = [&](int64_t i) { return q + (i / n_rep) * q_stride + (i % n_rep) * hd; };
  const __m512 vscale = _mm512_set1_ps(scale);

  // scores[i][j] = scale * q_i · k_j, 16 keys by 8 rows at a time.
  for (int64_t j0 = 0; j0 < keys; j0 += 16) {
    const float* ktb = kt + j0 * hd;  // this block's [hd][16]
    // Rows of tokens that see none of these keys are skipped (causal).
    for (int64_t i = std::max<int64_t>(0, j0 - pos0) * n_rep; i < rows; i += 8) {
      const float* r[8];
      float* o[8];
      float spare[16];  // a last group of fewer than 8 rows computes its last row again
      for (int64_t g = 0; g < 8; ++g) {
        const bool real = i + g < rows;
        r[g] = qrow(real ? i + g : rows - 1);
        o[g] = real ? s + (i + g) * stride + j0 : spare;
      }
      scores_8x16(r, ktb, hd, vscale, o);
    }
  }
  // Per row: probabilities over its keys, zero past them.
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t n = pos0 + i / n_rep + 1;
    float* si = s + i * stride;
    softmax_unnormalized(si, n, &lsum[i]);
    std::fill(si + n, si + keys, 0.0f);
  }
  // acc[i] = Σ_j p[i][j] v_j, V blocks shared by all rows that see them.
  constexpr int kRows = NV >= 8 ? 2 : 16 / NV;
  constexpr int64_t kBlock = 32;
  for (int64_t j0 = 0; j0 < keys; j0 += kBlock) {
    const int64_t j1 = std::min(keys, j0 + kBlock);
    int64_t i = std::max<int64_t>(0, j0 - pos0) * n_rep;  // rows that see key j0
    for (; i + kRows <= rows; i += kRows)
      weighted_sum_rows<NV, kRows>(s, v, stride, kv_stride, i, j0, j1, acc);
    if constexpr (kRows >= 4) {
      for (; i + kRows / 2 <= rows; i += kRows / 2)
        weighted_sum_rows<NV, kRows / 2>(s, v, stride, kv_stride, i, j0, j1, acc);
    }
    for (; i < rows; ++i) weighted_sum_rows<NV, 1>(s, v, stride, kv_stride, i, j0, j1, acc);
  }
  for (int64_t i = 0; i < rows; ++i) {
    const __m512 inv = _mm512_set1_ps(1.0f / lsum[i]);
    float* o = out + (i / n_rep) * q_stride + (i % n_rep) * hd;
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c)
      _mm512_storeu_ps(o + 16 * c, _mm512_mul_ps(_mm512_loadu_ps(acc + i * hd + 16 * c), inv));
  }
}

void attend_block(const float* q, int64_t q_stride, int64_t n_tok, int64_t pos0, const float* kt,
                  const float* v, int64_t kv_stride, int64_t hd, int64_t n_rep, float scale,
                  float* scratch, float* out) {
  if (hd == 128)
    return attend_block_nv<8>(q, q_stride, n_tok, pos0, kt, v, kv_stride, n_rep, scale, scratch, out);
  attend_block_nv<4>(q, q_stride, n_tok, pos0, kt, v, kv_stride, n_rep, scale, scratch, out);
}

constexpr OpsKernels kAvx512 = {"avx512", rms_norm_row, swiglu, add, attend, attend_block};

}  // namespace

const OpsKernels* ops_kernels_avx512() { return &kAvx512; }

}  // namespace scn::inference::cpu
