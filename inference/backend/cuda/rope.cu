// RoPE (normal and NEOX) and the fused attention-block glue qkv_rope_store
// (see cuda_ops.h). One block per row: the row's cos/sin of every rotated
// pair are computed once in double (as the CPU backend does: the angle
// pos * freq_scale * base^(-2k/d) / freq_factors[k] is large at long
// contexts) into shared memory, then shared by all heads of q and k.
#include <algorithm>
#include <cstdint>

#include "inference/backend/cuda/cuda_device.cuh"
#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

constexpr int kRopeThreads = 128;

struct RopeArgs {
  float* q = nullptr;  // [n][n_q_heads * head_dim], may be null
  float* k = nullptr;  // [n][n_k_heads * head_dim], may be null
  float* v = nullptr;  // [n][n_k_heads * head_dim], may be null
  const float* bq = nullptr;
  const float* bk = nullptr;
  const float* bv = nullptr;
  int32_t n_q_heads = 0, n_k_heads = 0, head_dim = 0;
  int32_t n_dims = 0;  // d: rotated dims (<= head_dim)
  int32_t half = 0;    // d / 2 pairs
  float freq_base = 10000.f, freq_scale = 1.f;
  const float* freq_factors = nullptr;
  bool neox = false;
  const int32_t* pos = nullptr;
  // KV store (kc null: none)
  float* kc = nullptr;
  float* vc = nullptr;
  int64_t block_stride = 0;
  int64_t cache_row = 0;  // floats between KV rows of a block (kv_dim)
  int32_t bt = 1;
  const int32_t* slot = nullptr;
};

// Adds the bias to, and rotates, the heads of one row `x` (with copies of the
// results into `cache` when non-null). Units per head: `half` rotated pairs,
// then head_dim - 2*half elements that only get the bias.
__device__ void rotate_row(float* x, const float* bias, float* cache, int n_heads,
                           const RopeArgs& a, const float* cosv, const float* sinv) {
  const int hd = a.head_dim, half = a.half;
  const int units = half + (hd - 2 * half);
  const int total = n_heads * units;
  for (int u = threadIdx.x; u < total; u += blockDim.x) {
    const int h = u / units, w = u % units;
    float* xh = x + static_cast<int64_t>(h) * hd;
    const float* bh = bias ? bias + static_cast<int64_t>(h) * hd : nullptr;
    float* ch = cache ? cache + static_cast<int64_t>(h) * hd : nullptr;
    if (w < half) {
      const int ia = a.neox ? w : 2 * w;
      const int ib = a.neox ? w + a.n_dims / 2 : 2 * w + 1;
      float x0 = xh[ia], x1 = xh[ib];
      if (bh) { x0 += bh[ia]; x1 += bh[ib]; }
      const float c = cosv[w], s = sinv[w];
      const float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
      xh[ia] = y0;
      xh[ib] = y1;
      if (ch) { ch[ia] = y0; ch[ib] = y1; }
    } else {
      const int e = 2 * half + (w - half);
      float x0 = xh[e];
      if (bh) x0 += bh[e];
      xh[e] = x0;
      if (ch) ch[e] = x0;
    }
  }
}

__global__ void __launch_bounds__(kRopeThreads) rope_qkv_kernel(RopeArgs a) {
  extern __shared__ float cs[];  // [half] cos, then [half] sin
  float* cosv = cs;
  float* sinv = cs + a.half;
  const int64_t i = blockIdx.x;
  const double position = static_cast<double>(a.pos[i]) * static_cast<double>(a.freq_scale);
  for (int k = threadIdx.x; k < a.half; k += blockDim.x) {
    double theta = position * pow(static_cast<double>(a.freq_base),
                                  -2.0 * static_cast<double>(k) / a.n_dims);
    if (a.freq_factors) theta /= static_cast<double>(a.freq_factors[k]);
    double sn, c;
    sincos(theta, &sn, &c);
    cosv[k] = static_cast<float>(c);
    sinv[k] = static_cast<float>(sn);
  }
  __syncthreads();

  float* kc_row = nullptr;
  float* vc_row = nullptr;
  if (a.kc) {
    const int32_t slot = a.slot[i];
    if (slot >= 0) {
      const int64_t off = static_cast<int64_t>(slot / a.bt) * a.block_stride +
                          static_cast<int64_t>(slot % a.bt) * a.cache_row;
      kc_row = a.kc + off;
      vc_row = a.vc + off;
    }
  }
  const int64_t qd = static_cast<int64_t>(a.n_q_heads) * a.head_dim;
  const int64_t kd = static_cast<int64_t>(a.n_k_heads) * a.head_dim;
  if (a.q) rotate_row(a.q + i * qd, a.bq, nullptr, a.n_q_heads, a, cosv, sinv);
  if (a.k) rotate_row(a.k + i * kd, a.bk, kc_row, a.n_k_heads, a, cosv, sinv);
  if (a.v && (a.bv || vc_row)) {
    float* vr = a.v + i * kd;
    for (int64_t e = threadIdx.x; e < kd; e += blockDim.x) {
      float x = vr[e];
      if (a.bv) { x += a.bv[e]; vr[e] = x; }
      if (vc_row) vc_row[e] = x;
    }
  }
}

RopeArgs base_args(int64_t head_dim, const int32_t* pos, const RopeParams& p) {
  RopeArgs a;
  a.head_dim = static_cast<int32_t>(head_dim);
  a.n_dims = static_cast<int32_t>(std::min<int64_t>(p.n_dims, head_dim));
  a.half = a.n_dims / 2;
  a.freq_base = p.freq_base;
  a.freq_scale = p.freq_scale;
  a.freq_factors = p.freq_factors;
  a.neox = p.neox;
  a.pos = pos;
  return a;
}

void launch(Stream s, const RopeArgs& a, int64_t n) {
  const size_t smem = 2 * static_cast<size_t>(std::max(a.half, 1)) * sizeof(float);
  rope_qkv_kernel<<<static_cast<unsigned>(n), kRopeThreads, smem, s>>>(a);
}

}  // namespace

void launch_rope(Stream s, float* x, int64_t n, int64_t n_heads, int64_t head_dim,
                 const int32_t* pos, const RopeParams& p) {
  if (n <= 0 || n_heads <= 0 || head_dim <= 0) return;
  RopeArgs a = base_args(head_dim, pos, p);
  if (a.half <= 0) return;  // nothing rotates, no bias: a no-op
  a.q = x;
  a.n_q_heads = static_cast<int32_t>(n_heads);
  launch(s, a, n);
}

void launch_qkv_rope_store(Stream s, float* q, float* k, float* v, const float* bq,
                           const float* bk, const float* bv, int64_t n_heads,
                           int64_t n_kv_heads, int64_t head_dim, const RopeParams& rope,
                           const KvLayer& kv, const PagedBatch& b) {
  if (b.n_rows <= 0 || head_dim <= 0) return;
  RopeArgs a = base_args(head_dim, b.row_pos, rope);
  a.q = q;
  a.k = k;
  a.v = v;
  a.bq = bq;
  a.bk = bk;
  a.bv = bv;
  a.n_q_heads = static_cast<int32_t>(n_heads);
  a.n_k_heads = static_cast<int32_t>(n_kv_heads);
  a.kc = kv.k;
  a.vc = kv.v;
  a.block_stride = kv.block_stride;
  a.cache_row = kv.kv_dim;
  a.bt = std::max<int32_t>(kv.block_tokens, 1);
  a.slot = b.row_slot;
  launch(s, a, b.n_rows);
}

}  // namespace scn::inference::cuda
