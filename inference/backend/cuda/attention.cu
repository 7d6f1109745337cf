// Causal attention over contiguous or paged K/V (see cuda_ops.h), the
// flash-decoding way: block (row r, KV head g [, pass over its query heads],
// split z) walks the keys of split z of row r's range [0, pos_r]; its 4 warps
// take consecutive sub-ranges, each warp keeps an online softmax (running max
// m, sum l, accumulator acc) for up to kHP query heads of group g, whose
// K/V rows it reads once for all of them (GQA). Lane l holds dims l + 32i of
// a head (D = ceil(head_dim / 32) per lane). The warps are merged in shared
// memory; with several splits the block writes (m, l, acc) partials that
// attn_combine_kernel merges into the output. Template instances: D in
// {1, 2, 4, 8}. Prefill rows use the same kernel (one block per row and
// head group; K/V re-reads of a chunk come from L2).
#include <algorithm>
#include <climits>
#include <cstdint>

#include "inference/backend/cuda/cuda_device.cuh"
#include "inference/backend/cuda/cuda_ops.h"

namespace scn::inference::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kMinSplitKeys = 128;  // fewer keys per split is not worth a partial
constexpr int kMaxSplits = 1024;
constexpr int kCombineThreads = 128;

template <int D> __host__ __device__ constexpr int heads_per_block() { return D <= 4 ? 8 : 4; }

int dims_per_lane(int64_t head_dim) {
  return head_dim <= 32 ? 1 : head_dim <= 64 ? 2 : head_dim <= 128 ? 4 : 8;
}

// Partials of split z: acc at part + ((z * n_rows + r) * n_heads + h) * hd,
// then m and l at part_m / part_l + (z * n_rows + r) * n_heads + h.
struct Partials {
  float* acc = nullptr;
  float* m = nullptr;
  float* l = nullptr;
};

template <int D>
__global__ void __launch_bounds__(kThreads)
attn_kernel(AttnArgs a, int32_t split_len, int32_t head_groups, Partials part) {
  constexpr int kHP = heads_per_block<D>();
  __shared__ float sm_m[kWarps][kHP];
  __shared__ float sm_l[kWarps][kHP];
  __shared__ float sm_acc[kWarps][kHP][32 * D];

  const int r = blockIdx.x;
  const int rep = a.n_heads / a.n_kv_heads;
  const int g = blockIdx.y / head_groups;
  const int hg = blockIdx.y % head_groups;
  const int h0 = g * rep + hg * kHP;              // first query head of this block
  const int nh = min(kHP, rep - hg * kHP);        // its query heads (>= 1)
  const int z = blockIdx.z;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int hd = a.head_dim;

  const int32_t pos = a.row_pos ? a.row_pos[r] : a.pos0 + r;
  const int32_t seq = a.row_seq ? a.row_seq[r] : 0;
  int64_t n_keys = static_cast<int64_t>(pos) + 1;
  if (n_keys < 0) n_keys = 0;
  if (a.table) n_keys = min(n_keys, static_cast<int64_t>(a.max_blocks) * a.bt);
  const int64_t z0 = static_cast<int64_t>(z) * split_len;
  const int64_t z1 = min(z0 + split_len, n_keys);
  const int64_t len = z1 > z0 ? z1 - z0 : 0;
  const int64_t per = (len + kWarps - 1) / kWarps;
  const int64_t j0 = z0 + w * per;
  const int64_t j1 = min(j0 + per, z1);

  float qr[kHP][D], acc[kHP][D], m[kHP], l[kHP];
  const float* qrow = a.q + static_cast<int64_t>(r) * a.n_heads * hd;
#pragma unroll
  for (int h = 0; h < kHP; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.f;
#pragma unroll
    for (int i = 0; i < D; ++i) {
      const int d = lane + 32 * i;
      qr[h][i] = (h < nh && d < hd) ? qrow[static_cast<int64_t>(h0 + h) * hd + d] * a.scale : 0.f;
      acc[h][i] = 0.f;
    }
  }

  if (j0 < j1) {
    const int32_t* tbl = a.table ? a.table + static_cast<int64_t>(seq) * a.max_blocks : nullptr;
    int64_t tb = j0 / a.bt;
    int32_t off = static_cast<int32_t>(j0 % a.bt);
    int64_t boff = (tbl ? static_cast<int64_t>(tbl[tb]) : 0) * a.block_stride;
    const int64_t head_off = static_cast<int64_t>(g) * hd;
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t ro = boff + static_cast<int64_t>(off) * a.row_stride + head_off;
      float kk[D], vv[D];
#pragma unroll
      for (int i = 0; i < D; ++i) {
        const int d = lane + 32 * i;
        kk[i] = d < hd ? a.k[ro + d] : 0.f;
        vv[i] = d < hd ? a.v[ro + d] : 0.f;
      }
#pragma unroll
      for (int h = 0; h < kHP; ++h) {
        if (h < nh) {  // uniform across the block
          float s = 0.f;
#pragma unroll
          for (int i = 0; i < D; ++i) s += qr[h][i] * kk[i];
          s = warp_sum(s);
          if (s > m[h]) {
            const float corr = expf(m[h] - s);  // 0 for the first key (m = -inf)
            l[h] *= corr;
#pragma unroll
            for (int i = 0; i < D; ++i) acc[h][i] *= corr;
            m[h] = s;
          }
          const float p = expf(s - m[h]);
          l[h] += p;
#pragma unroll
          for (int i = 0; i < D; ++i) acc[h][i] += p * vv[i];
        }
      }
      if (++off == a.bt) {
        off = 0;
        ++tb;
        if (j + 1 < j1) boff = (tbl ? static_cast<int64_t>(tbl[tb]) : 0) * a.block_stride;
      }
    }
  }

  // Merge the warps.
#pragma unroll
  for (int h = 0; h < kHP; ++h) {
    if (lane == 0) {
      sm_m[w][h] = m[h];
      sm_l[w][h] = l[h];
    }
#pragma unroll
    for (int i = 0; i < D; ++i) sm_acc[w][h][lane + 32 * i] = acc[h][i];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < nh * hd; idx += blockDim.x) {
    const int h = idx / hd, d = idx % hd;
    float mx = -INFINITY;
#pragma unroll
    for (int ww = 0; ww < kWarps; ++ww) mx = fmaxf(mx, sm_m[ww][h]);
    float sum = 0.f, o = 0.f;
    if (mx != -INFINITY) {
#pragma unroll
      for (int ww = 0; ww < kWarps; ++ww) {
        if (sm_m[ww][h] == -INFINITY) continue;
        const float e = expf(sm_m[ww][h] - mx);
        sum += sm_l[ww][h] * e;
        o += sm_acc[ww][h][d] * e;
      }
    }
    const int64_t rh = static_cast<int64_t>(r) * a.n_heads + h0 + h;
    if (part.acc == nullptr) {
      a.out[rh * hd + d] = sum > 0.f ? o / sum : 0.f;
    } else {
      const int64_t zrh = static_cast<int64_t>(z) * a.n_rows * a.n_heads + rh;
      part.acc[zrh * hd + d] = o;
      if (d == 0) {
        part.m[zrh] = mx;
        part.l[zrh] = sum;
      }
    }
  }
}

// One block per (row, head): merges the n_splits partials.
__global__ void __launch_bounds__(kCombineThreads)
attn_combine_kernel(float* out, Partials part, int32_t n_splits, int32_t n_rows,
                    int32_t n_heads, int32_t hd) {
  __shared__ float scratch[32];
  __shared__ float wts[kMaxSplits];
  const int64_t rh = blockIdx.x;  // r * n_heads + h
  const int64_t rh_stride = static_cast<int64_t>(n_rows) * n_heads;
  float mx = -INFINITY;
  for (int z = threadIdx.x; z < n_splits; z += blockDim.x) mx = fmaxf(mx, part.m[z * rh_stride + rh]);
  mx = block_max(mx, scratch);
  float sum = 0.f;
  for (int z = threadIdx.x; z < n_splits; z += blockDim.x) {
    const float mz = part.m[z * rh_stride + rh];
    const float e = (mz == -INFINITY || mx == -INFINITY) ? 0.f : expf(mz - mx);
    wts[z] = e;
    sum += part.l[z * rh_stride + rh] * e;
  }
  sum = block_sum(sum, scratch);  // also orders the wts[] writes before the reads below
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.f;
    for (int z = 0; z < n_splits; ++z) {
      const float e = wts[z];
      if (e != 0.f) o += part.acc[(z * rh_stride + rh) * hd + d] * e;
    }
    out[rh * hd + d] = sum > 0.f ? o / sum : 0.f;
  }
}

template <int D>
void launch_d(Stream s, const AttnArgs& a, const AttnPlan& plan, const Partials& part) {
  const dim3 grid(static_cast<unsigned>(a.n_rows),
                  static_cast<unsigned>(a.n_kv_heads * plan.head_groups),
                  static_cast<unsigned>(plan.n_splits));
  attn_kernel<D><<<grid, kThreads, 0, s>>>(a, plan.split_len, plan.head_groups, part);
}

}  // namespace

AttnPlan plan_attention(int64_t n_rows, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                        int64_t max_len, int n_sm) {
  AttnPlan p;
  const int d = dims_per_lane(head_dim);
  const int64_t hp = d <= 4 ? 8 : 4;
  const int64_t rep = n_kv_heads > 0 ? n_heads / n_kv_heads : 1;
  p.head_groups = static_cast<int32_t>(std::max<int64_t>(1, ceil_div(rep, hp)));
  const int64_t base = std::max<int64_t>(1, n_rows * n_kv_heads * p.head_groups);
  const int64_t target = 4 * static_cast<int64_t>(std::max(n_sm, 1));
  int64_t splits = 1;
  if (base < target && max_len > 2 * kMinSplitKeys)
    splits = std::min<int64_t>({ceil_div(target, base), max_len / kMinSplitKeys, kMaxSplits});
  if (splits <= 1) {
    p.n_splits = 1;
    p.split_len = INT_MAX;  // one split covers every key, whatever max_len says
    return p;
  }
  const int64_t split_len = ceil_div(max_len, splits);
  p.split_len = static_cast<int32_t>(split_len);
  p.n_splits = static_cast<int32_t>(ceil_div(max_len, split_len));
  return p;
}

size_t attention_scratch_bytes(const AttnPlan& plan, int64_t n_rows, int64_t n_heads,
                               int64_t head_dim) {
  if (plan.n_splits <= 1) return 0;
  const size_t zrh = static_cast<size_t>(plan.n_splits) * n_rows * n_heads;
  return zrh * (static_cast<size_t>(head_dim) + 2) * sizeof(float);
}

void launch_attention(Stream s, const AttnArgs& a, const AttnPlan& plan, float* scratch) {
  if (a.n_rows <= 0 || a.n_heads <= 0 || a.head_dim <= 0) return;
  Partials part;
  if (plan.n_splits > 1) {
    const size_t zrh = static_cast<size_t>(plan.n_splits) * a.n_rows * a.n_heads;
    part.acc = scratch;
    part.m = scratch + zrh * a.head_dim;
    part.l = part.m + zrh;
  }
  switch (dims_per_lane(a.head_dim)) {
    case 1: launch_d<1>(s, a, plan, part); break;
    case 2: launch_d<2>(s, a, plan, part); break;
    case 4: launch_d<4>(s, a, plan, part); break;
    default: launch_d<8>(s, a, plan, part); break;
  }
  if (plan.n_splits > 1) {
    attn_combine_kernel<<<static_cast<unsigned>(static_cast<int64_t>(a.n_rows) * a.n_heads),
                          kCombineThreads, 0, s>>>(a.out, part, plan.n_splits, a.n_rows,
                                                   a.n_heads, a.head_dim);
  }
}

}  // namespace scn::inference::cuda
