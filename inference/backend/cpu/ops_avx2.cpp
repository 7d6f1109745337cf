// AVX2/FMA kernels of the CPU ops (see ops_kernels.h). Compiled with the
// AVX2 flags; reached only through ops_kernels() after a cpuid check.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "inference/backend/cpu/ops_kernels.h"

namespace scn::inference::cpu {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp(x) for 8 floats: Cephes polynomial on [-ln2/2, ln2/2] times 2^n built
// in the exponent bits; inputs clamped to [-87, 88].
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n: n in [-126, 127] after the clamp, so (n + 127) << 23 is a normal float.
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void rms_norm_row(const float* x, const float* w, float* y, int64_t dim, float eps) {
  const float inv = 1.0f / std::sqrt(dot(x, x, dim) / static_cast<float>(dim) + eps);
  const __m256 vinv = _mm256_set1_ps(inv);
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), _mm256_loadu_ps(w + i)));
  for (; i < dim; ++i) y[i] = x[i] * inv * w[i];
}

void swiglu(const float* gate, const float* up, float* out, int64_t count) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < count; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add(float* x, const float* y, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < count; ++i) x[i] += y[i];
}

// s[0, n) = exp(s - m) where m is their maximum; returns m and *sum.
float softmax_unnormalized(float* s, int64_t n, float* sum) {
  __m256 vmx = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + j));
  float m = hmax(vmx);
  for (; j < n; ++j) m = std::max(m, s[j]);
  const __m256 vm = _mm256_set1_ps(m);
  __m256 vsum = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    vsum = _mm256_add_ps(vsum, e);
    _mm256_storeu_ps(s + j, e);
  }
  float total = hsum(vsum);
  for (; j < n; ++j) total += (s[j] = std::exp(s[j] - m));
  *sum = total;
  return m;
}

// The horizontal sums of a[0..7] as one vector (element u = Σ a[u]).
inline __m256 reduce8(const __m256* a) {
  const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 lo = _mm256_hadd_ps(h01, h23), hi = _mm256_hadd_ps(h45, h67);
  // lo: [a0 a1 a2 a3 | a0 a1 a2 a3] partial sums of each 128-bit half; hi likewise for a4..a7.
  return _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31));
}

// scores[r][j] = scale * q_r · k_j for head size 8 * NV, 8 keys at a time.
template <int NV>
void scores_nv(const float* q, const float* k, int64_t n_keys, int64_t kv_stride, int64_t n_rep,
               float scale, float* scores) {
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t j0 = 0;
  for (; j0 + 8 <= n_keys; j0 += 8) {
    for (int64_t r = 0; r < n_rep; ++r) {
      const float* qr = q + r * 8 * NV;
      __m256 acc[8];
      #pragma GCC unroll 16
      for (int u = 0; u < 8; ++u) {
        const float* kj = k + (j0 + u) * kv_stride;
        __m256 a = _mm256_mul_ps(_mm256_loadu_ps(qr), _mm256_loadu_ps(kj));
        #pragma GCC unroll 16
        for (int c = 1; c < NV; ++c)
          a = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c), _mm256_loadu_ps(kj + 8 * c), a);
        acc[u] = a;
      }
      _mm256_storeu_ps(scores + r * n_keys + j0, _mm256_mul_ps(reduce8(acc), vscale));
    }
  }
  for (; j0 < n_keys; ++j0)
    for (int64_t r = 0; r < n_rep; ++r)
      scores[r * n_keys + j0] = scale * dot(q + r * 8 * NV, k + j0 * kv_stride, 8 * NV);
}

// acc[r][8*NV] = Σ_j p[r][j] v_j for RG heads r0 .. r0+RG-1 at once (RG * NV
// independent accumulators hide the FMA latency), over keys in blocks that
// stay in L1 while the heads pass over them: V is read from memory once.
template <int NV, int RG>
void weighted_sum_rows(const float* p_all, const float* v, int64_t n_keys, int64_t kv_stride,
                       int64_t r0, int64_t j0, int64_t j1, float* out) {
  __m256 acc[RG][NV];
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g)
#pragma GCC unroll 16
    for (int c = 0; c < NV; ++c)
      acc[g][c] = j0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(out + (r0 + g) * NV * 8 + 8 * c);
  for (int64_t j = j0; j < j1; ++j) {
    const float* vj = v + j * kv_stride;
#pragma GCC unroll 8
    for (int g = 0; g < RG; ++g) {
      const __m256 pj = _mm256_set1_ps(p_all[(r0 + g) * n_keys + j]);
#pragma GCC unroll 16
      for (int c = 0; c < NV; ++c) acc[g][c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * c), acc[g][c]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < RG; ++g)
#pragma GCC unroll 16
    for (int c = 0; c < NV; ++c) _mm256_storeu_ps(out + (r0 + g) * NV * 8 + 8 * c, acc[g][c]);
}

template <int NV>
void weighted_sum(const float* p_all, const float* v, int64_t n_keys, int64_t kv_stride,
                  int64_t n_rep, float* out) {
  constexpr int kRows = NV >= 8 ? 1 : 8 / NV;  // about 8 accumulators in flight
  constexpr int64_t kBlock = 32;
  for (int64_t j0 = 0; j0 < n_keys; j0 += kBlock) {
    const int64_t j1 = std::min(n_keys, j0 + kBlock);
    int64_t r = 0;
    for (; r + kRows <= n_rep; r += kRows)
      weighted_sum_rows<NV, kRows>(p_all, v, n_keys, kv_stride, r, j0, j1, out);
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
  switch (hd) {  // the usual head sizes
    case 64: return attend_nv<8>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
    case 128: return attend_nv<16>(q, k, v, n_keys, kv_stride, n_rep, scale, scratch, acc, m, l);
    default: break;
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
      const float p = scratch[r * n_keys + j];
      const __m256 pj = _mm256_set1_ps(p);
      float* o = acc + r * hd;
      int64_t c = 0;
      for (; c + 8 <= hd; c += 8)
        _mm256_storeu_ps(o + c, _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + c), _mm256_loadu_ps(o + c)));
      for (; c < hd; ++c) o[c] += p * vj[c];
    }
  }
}

constexpr OpsKernels kAvx2 = {"avx2", rms_norm_row, swiglu, add, attend, nullptr};

}  // namespace

const OpsKernels* ops_kernels_avx2() { return &kAvx2; }

}  // namespace scn::inference::cpu
