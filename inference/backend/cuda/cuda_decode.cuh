// Internal to backend/cuda: device-side decoding of the weight layouts of
// cuda_weight.h, shared by the matvec, dequantize and get_rows kernels.
//
// A row of a weight is read in "units": 16 aligned bytes of quants (48 for
// Q6_K) plus their scales, read by one lane. A unit holds kRuns runs of kRunLen
// consecutive columns (run_col); run_vals() gives the run's integer (or
// float) values with the bias removed, and the run's element values are
// run_scale * v - run_min (run_min is 0 except for Q4_K). The float order of
// these operations matches dequantize_row (backend/cpu/quants.cpp) exactly.
// unit_dot() is the inner product of the matrix-vector kernels (matvec.cuh).
// Host-compilable (g++ too): tests/gpu/cuda_decode_test.cpp checks it all
// against dequantize_row without needing a GPU.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "inference/backend/cuda/cuda_weight.h"

namespace scn::inference::cuda {

// Every decoder function is host-callable too (SCN_HD), so that the layout
// and decoding can be checked against dequantize_row on a machine without a
// GPU; the device versions use the intrinsics.
#define SCN_HD __host__ __device__ __forceinline__
#ifdef __CUDA_ARCH__  // device pass only: host compilers do not know the pragma
#define SCN_UNROLL _Pragma("unroll")
#else
#define SCN_UNROLL
#endif

// 16 bytes of weight, streamed: not kept in L1 (x and the scales stay there).
SCN_HD uint4 ld_stream(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
      : "l"(p));
  return r;
#else
  uint4 r;
  std::memcpy(&r, p, 16);
  return r;
#endif
}

// A read-only load through the texture / L1 path.
template <class T> SCN_HD T ldg(const T* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  return *p;
#endif
}

SCN_HD float bits_as_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

SCN_HD float half_bits_to_float(uint32_t bits16) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits16 & 0xFFFFu)));
}

// The byte k (0..3) of w placed in the mantissa of 2^23: the float 2^23 + b.
template <int K> SCN_HD float byte_as_float_2p23(uint32_t w) {
#ifdef __CUDA_ARCH__
  return bits_as_float(__byte_perm(w, 0x4B000000u, 0x7440 | K));
#else
  return bits_as_float(0x4B000000u | ((w >> (8 * K)) & 0xFFu));
#endif
}

// The four bytes of w (each 0..255) as floats minus `bias`, exactly.
SCN_HD void bytes4(uint32_t w, float bias, float* out) {
  const float off = 8388608.f + bias;
  out[0] = byte_as_float_2p23<0>(w) - off;
  out[1] = byte_as_float_2p23<1>(w) - off;
  out[2] = byte_as_float_2p23<2>(w) - off;
  out[3] = byte_as_float_2p23<3>(w) - off;
}

SCN_HD uint32_t word(const uint4& v, int k) {
  return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w;
}

template <GgmlType T> struct Dec;

template <> struct Dec<GgmlType::F32> {
  static constexpr int kRuns = 1, kRunLen = 4;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a; };
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    r.a = ld_stream(w.q + row * w.q_stride + 16 * static_cast<int64_t>(u));
  }
  SCN_HD static int64_t run_col(int u, int) { return 4 * static_cast<int64_t>(u); }
  SCN_HD static void run_vals(const Raw& r, int, float* v) {
    v[0] = bits_as_float(r.a.x); v[1] = bits_as_float(r.a.y);
    v[2] = bits_as_float(r.a.z); v[3] = bits_as_float(r.a.w);
  }
  SCN_HD static float run_scale(const Raw&, int) { return 1.f; }
  SCN_HD static float run_min(const Raw&, int) { return 0.f; }
};

template <> struct Dec<GgmlType::F16> {
  static constexpr int kRuns = 1, kRunLen = 8;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a; };
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    r.a = ld_stream(w.q + row * w.q_stride + 16 * static_cast<int64_t>(u));
  }
  SCN_HD static int64_t run_col(int u, int) { return 8 * static_cast<int64_t>(u); }
  SCN_HD static void run_vals(const Raw& r, int, float* v) {
SCN_UNROLL
    for (int k = 0; k < 4; ++k) {
      const uint32_t w = word(r.a, k);
      v[2 * k] = half_bits_to_float(w);
      v[2 * k + 1] = half_bits_to_float(w >> 16);
    }
  }
  SCN_HD static float run_scale(const Raw&, int) { return 1.f; }
  SCN_HD static float run_min(const Raw&, int) { return 0.f; }
};

template <> struct Dec<GgmlType::BF16> {
  static constexpr int kRuns = 1, kRunLen = 8;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a; };
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    r.a = ld_stream(w.q + row * w.q_stride + 16 * static_cast<int64_t>(u));
  }
  SCN_HD static int64_t run_col(int u, int) { return 8 * static_cast<int64_t>(u); }
  SCN_HD static void run_vals(const Raw& r, int, float* v) {
SCN_UNROLL
    for (int k = 0; k < 4; ++k) {
      const uint32_t w = word(r.a, k);
      v[2 * k] = bits_as_float(w << 16);
      v[2 * k + 1] = bits_as_float(w & 0xFFFF0000u);
    }
  }
  SCN_HD static float run_scale(const Raw&, int) { return 1.f; }
  SCN_HD static float run_min(const Raw&, int) { return 0.f; }
};

// Q8_0: unit u = quants 16u..16u+15 of the row, scale s[u / 2].
template <> struct Dec<GgmlType::Q8_0> {
  static constexpr int kRuns = 1, kRunLen = 16;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a; float d; };
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    r.a = ld_stream(w.q + row * w.q_stride + 16 * static_cast<int64_t>(u));
    const auto* s = reinterpret_cast<const unsigned short*>(w.s + row * w.s_stride);
    r.d = __half2float(__ushort_as_half(ldg(s + (u >> 1))));
  }
  SCN_HD static int64_t run_col(int u, int) { return 16 * static_cast<int64_t>(u); }
  SCN_HD static void run_vals(const Raw& r, int, float* v) {
SCN_UNROLL
    for (int k = 0; k < 4; ++k) bytes4(word(r.a, k) ^ 0x80808080u, 128.f, v + 4 * k);
  }
  SCN_HD static float run_scale(const Raw& r, int) { return r.d; }
  SCN_HD static float run_min(const Raw&, int) { return 0.f; }
};

// Q4_0: unit u = block u (qs[16]: low nibbles are columns 32u + i, high
// nibbles 32u + 16 + i), scale s[u].
template <> struct Dec<GgmlType::Q4_0> {
  static constexpr int kRuns = 2, kRunLen = 16;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a; float d; };
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    r.a = ld_stream(w.q + row * w.q_stride + 16 * static_cast<int64_t>(u));
    const auto* s = reinterpret_cast<const unsigned short*>(w.s + row * w.s_stride);
    r.d = __half2float(__ushort_as_half(ldg(s + u)));
  }
  SCN_HD static int64_t run_col(int u, int run) { return 32 * static_cast<int64_t>(u) + 16 * run; }
  SCN_HD static void run_vals(const Raw& r, int run, float* v) {
SCN_UNROLL
    for (int k = 0; k < 4; ++k)
      bytes4((word(r.a, k) >> (4 * run)) & 0x0F0F0F0Fu, 8.f, v + 4 * k);
  }
  SCN_HD static float run_scale(const Raw& r, int) { return r.d; }
  SCN_HD static float run_min(const Raw&, int) { return 0.f; }
};

// Q4_K: unit u = qs bytes 16c..16c+15 of super-block sb = u / 8 (c = u % 8,
// j = c / 2): low nibbles are columns 256sb + 64j + 16(c&1) + i (sub-block
// 2j), high nibbles the same + 32 (sub-block 2j + 1).
template <> struct Dec<GgmlType::Q4_K> {
  static constexpr int kRuns = 2, kRunLen = 16;
  static constexpr bool kHasMin = true;
  struct Raw { uint4 a; float d[2], m[2]; };
  SCN_HD static uint32_t sbyte(const uint4& h, int b) {
    const uint32_t w = b < 4 ? h.y : (b < 8 ? h.z : h.w);
    return (w >> (8 * (b & 3))) & 0xFFu;
  }
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    r.a = ld_stream(w.q + row * w.q_stride + 16 * static_cast<int64_t>(u));
    const int sb = u >> 3, j = (u & 7) >> 1;
    const uint4 h = ldg(reinterpret_cast<const uint4*>(w.s + row * w.s_stride + 16 * static_cast<int64_t>(sb)));
    const float d = half_bits_to_float(h.x), dmin = half_bits_to_float(h.x >> 16);
SCN_UNROLL
    for (int k = 0; k < 2; ++k) {
      const int is = 2 * j + k;
      uint32_t sc, m;
      if (is < 4) {
        sc = sbyte(h, is) & 63u;
        m = sbyte(h, is + 4) & 63u;
      } else {
        sc = (sbyte(h, is + 4) & 0xFu) | ((sbyte(h, is - 4) >> 6) << 4);
        m = (sbyte(h, is + 4) >> 4) | ((sbyte(h, is) >> 6) << 4);
      }
      r.d[k] = d * static_cast<float>(sc);
      r.m[k] = dmin * static_cast<float>(m);
    }
  }
  SCN_HD static int64_t run_col(int u, int run) {
    const int sb = u >> 3, c = u & 7;
    return 256 * static_cast<int64_t>(sb) + 64 * (c >> 1) + 16 * (c & 1) + 32 * run;
  }
  SCN_HD static void run_vals(const Raw& r, int run, float* v) {
SCN_UNROLL
    for (int k = 0; k < 4; ++k)
      bytes4((word(r.a, k) >> (4 * run)) & 0x0F0F0F0Fu, 0.f, v + 4 * k);
  }
  SCN_HD static float run_scale(const Raw& r, int run) { return r.d[run]; }
  SCN_HD static float run_min(const Raw& r, int run) { return r.m[run]; }
};

// Q6_K: unit u = (super-block sb = u / 4, half h = (u % 4) / 2, l0 =
// 16 (u & 1)): ql[64h + l0 + i], ql[64h + 32 + l0 + i], qh[32h + l0 + i] give
// the columns 256sb + 128h + l0 + 32m + i for m = 0..3.
template <> struct Dec<GgmlType::Q6_K> {
  static constexpr int kRuns = 4, kRunLen = 16;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a, b, c; float s[4]; };
  SCN_HD static void load(const WeightView& w, int64_t row, int u, Raw& r) {
    const int sb = u >> 2, v = u & 3, h = v >> 1, l0 = 16 * (v & 1);
    const uint8_t* base = w.q + row * w.q_stride + 192 * static_cast<int64_t>(sb);
    r.a = ld_stream(base + 64 * h + l0);
    r.b = ld_stream(base + 64 * h + 32 + l0);
    r.c = ld_stream(base + 128 + 32 * h + l0);
    const uint32_t sc4 = ldg(reinterpret_cast<const unsigned int*>(
        w.s + row * w.s_stride + 16 * static_cast<int64_t>(sb) + 4 * v));
    const float d = __half2float(__ushort_as_half(ldg(
        reinterpret_cast<const unsigned short*>(w.d) + row * w.d_stride + sb)));
SCN_UNROLL
    for (int m = 0; m < 4; ++m)
      r.s[m] = d * static_cast<float>(static_cast<int8_t>((sc4 >> (8 * m)) & 0xFFu));
  }
  SCN_HD static int64_t run_col(int u, int run) {
    const int sb = u >> 2, v = u & 3;
    return 256 * static_cast<int64_t>(sb) + 128 * (v >> 1) + 16 * (v & 1) + 32 * run;
  }
  SCN_HD static void run_vals(const Raw& r, int run, float* v) {
SCN_UNROLL
    for (int k = 0; k < 4; ++k) {
      const uint32_t a = word(r.a, k), b = word(r.b, k), c = word(r.c, k);
      uint32_t q;
      if (run == 0) q = (a & 0x0F0F0F0Fu) | ((c << 4) & 0x30303030u);
      else if (run == 1) q = (b & 0x0F0F0F0Fu) | ((c << 2) & 0x30303030u);
      else if (run == 2) q = ((a >> 4) & 0x0F0F0F0Fu) | (c & 0x30303030u);
      else q = ((b >> 4) & 0x0F0F0F0Fu) | ((c >> 2) & 0x30303030u);
      bytes4(q, 32.f, v + 4 * k);
    }
  }
  SCN_HD static float run_scale(const Raw& r, int run) { return r.s[run]; }
  SCN_HD static float run_min(const Raw&, int) { return 0.f; }
};

// acc[r][t] += (unit u of row r) · x[t][its columns], for the R rows of a
// warp at the same unit: each x value is loaded once for all R rows.
template <class D, int N, int R>
SCN_HD void unit_dot(const typename D::Raw (&raw)[R], int u, const float* x,
                                         int64_t ldx, float (&acc)[R][N]) {
SCN_UNROLL
  for (int run = 0; run < D::kRuns; ++run) {
    float v[R][D::kRunLen], sc[R], mn[R];
SCN_UNROLL
    for (int r = 0; r < R; ++r) {
      D::run_vals(raw[r], run, v[r]);
      sc[r] = D::run_scale(raw[r], run);
      mn[r] = D::run_min(raw[r], run);
    }
    const int64_t c0 = D::run_col(u, run);
SCN_UNROLL
    for (int t = 0; t < N; ++t) {
      const float* xp = x + t * ldx + c0;
      float s[R], sx = 0.f;
SCN_UNROLL
      for (int r = 0; r < R; ++r) s[r] = 0.f;
SCN_UNROLL
      for (int i = 0; i < D::kRunLen; i += 4) {
        const float4 xv = ldg(reinterpret_cast<const float4*>(xp + i));
SCN_UNROLL
        for (int r = 0; r < R; ++r) {
          s[r] = fmaf(v[r][i], xv.x, s[r]);
          s[r] = fmaf(v[r][i + 1], xv.y, s[r]);
          s[r] = fmaf(v[r][i + 2], xv.z, s[r]);
          s[r] = fmaf(v[r][i + 3], xv.w, s[r]);
        }
        if constexpr (D::kHasMin) sx += (xv.x + xv.y) + (xv.z + xv.w);
      }
SCN_UNROLL
      for (int r = 0; r < R; ++r) {
        acc[r][t] = fmaf(sc[r], s[r], acc[r][t]);
        if constexpr (D::kHasMin) acc[r][t] = fmaf(-mn[r], sx, acc[r][t]);
      }
    }
  }
}

}  // namespace scn::inference::cuda
