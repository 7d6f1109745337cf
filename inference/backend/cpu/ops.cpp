// The CPU backend's element-wise and attention ops (ops.h): work split over
// the thread pool, per-row kernels from the best instruction set
// (ops_kernels.h). Small ops run on the calling thread alone, since waking
// the pool costs more than they do.
#include "inference/backend/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/ops_kernels.h"

namespace scn::inference::cpu {

namespace {

// Below this many floats an element-wise op is not worth waking the pool.
constexpr int64_t kMinParallelFloats = 1 << 15;

// Runs fn(begin, end) over [0, n) split across the pool, or inline when the
// work (n items of `cost` floats each) is small.
template <typename Fn>
void parallel_rows(ThreadPool& pool, int64_t n, int64_t cost, const Fn& fn) {
  if (pool.size() == 1 || n == 1 || n * cost < kMinParallelFloats) {
    fn(int64_t{0}, n);
    return;
  }
  pool.run([&](int ith, int nth) {
    int64_t b, e;
    ThreadPool::split(n, ith, nth, &b, &e);
    if (b < e) fn(b, e);
  });
}

// Inverse frequencies base^(-2k/d) for k < d/2, cached for the last (base, d).
const std::vector<double>& inv_freqs(float base, int64_t d) {
  thread_local std::vector<double> freqs;
  thread_local float cached_base = 0;
  thread_local int64_t cached_d = -1;
  if (cached_base != base || cached_d != d) {
    freqs.resize(static_cast<size_t>(d / 2));
    for (int64_t k = 0; k < d / 2; ++k)
      freqs[k] = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(k) / d);
    cached_base = base;
    cached_d = d;
  }
  return freqs;
}

}  // namespace

const OpsKernels& ops_kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return *ops_kernels_avx512();
    case Isa::kAvx2: return *ops_kernels_avx2();
    case Isa::kScalar: break;
  }
  return ops_kernels_generic();
}

const OpsKernels& ops_kernels() {
  static const OpsKernels& kernels = ops_kernels_for(active_isa());
  return kernels;
}

void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t n,
              int64_t dim, float eps) {
  const auto& k = ops_kernels();
  parallel_rows(pool, n, dim, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) k.rms_norm_row(x + i * dim, weight, y + i * dim, dim, eps);
  });
}

void rope(ThreadPool& pool, float* x, int64_t n, int64_t n_heads, int64_t head_dim,
          const int32_t* pos, const RopeParams& p) {
  const int64_t d = std::min(p.n_dims, head_dim);
  const int64_t half = d / 2;
  if (half <= 0) return;
  const std::vector<double>& freqs = inv_freqs(p.freq_base, d);
  parallel_rows(pool, n, n_heads * head_dim * 4, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> cs;  // [half] cos, then [half] sin
    cs.resize(static_cast<size_t>(2 * half));
    float* cosv = cs.data();
    float* sinv = cs.data() + half;
    for (int64_t i = b; i < e; ++i) {
      const double position = static_cast<double>(pos[i]) * p.freq_scale;
      for (int64_t k = 0; k < half; ++k) {
        double theta = position * freqs[k];
        if (p.freq_factors) theta /= p.freq_factors[k];
        cosv[k] = static_cast<float>(std::cos(theta));
        sinv[k] = static_cast<float>(std::sin(theta));
      }
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + (i * n_heads + h) * head_dim;
        if (p.neox) {
          float* v1 = v + half;
          for (int64_t k = 0; k < half; ++k) {
            const float x0 = v[k], x1 = v1[k];
            v[k] = x0 * cosv[k] - x1 * sinv[k];
            v1[k] = x0 * sinv[k] + x1 * cosv[k];
          }
        } else {
          for (int64_t k = 0; k < half; ++k) {
            const float x0 = v[2 * k], x1 = v[2 * k + 1];
            v[2 * k] = x0 * cosv[k] - x1 * sinv[k];
            v[2 * k + 1] = x0 * sinv[k] + x1 * cosv[k];
          }
        }
      }
    }
  });
}

void swiglu(ThreadPool& pool, const float* gate, const float* up, float* out, int64_t count) {
  const auto& k = ops_kernels();
  constexpr int64_t kChunk = 1024;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  parallel_rows(pool, chunks, kChunk * 8, [&](int64_t b, int64_t e) {
    const int64_t lo = b * kChunk, hi = std::min(count, e * kChunk);
    k.swiglu(gate + lo, up + lo, out + lo, hi - lo);
  });
}

void add(ThreadPool& pool, float* x, const float* y, int64_t count) {
  const auto& k = ops_kernels();
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  parallel_rows(pool, chunks, kChunk, [&](int64_t b, int64_t e) {
    const int64_t lo = b * kChunk, hi = std::min(count, e * kChunk);
    k.add(x + lo, y + lo, hi - lo);
  });
}

void add_bias(ThreadPool& pool, float* y, const float* bias, int64_t n, int64_t dim) {
  const auto& k = ops_kernels();
  parallel_rows(pool, n, dim, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) k.add(y + i * dim, bias, dim);
  });
}

namespace {

// Prompt chunks: blocks of tokens per K/V head (attend_block), so that each
// K/V block loaded serves ~64 query rows. K is first transposed once per
// head into blocks of 16 keys, which turns the scores into plain FMAs.
void attention_blocks(ThreadPool& pool, const OpsKernels& kern, const float* q, const float* k,
                      const float* v, float* out, const AttentionParams& p) {
  const int64_t hd = p.head_dim;
  const int64_t rep = p.n_heads / p.n_kv_heads;
  const int64_t keys = p.pos0 + p.n_tokens;
  const int64_t panel_floats = (keys + 15) / 16 * 16 * hd;  // one K/V head's transposed keys
  thread_local std::vector<float> panel;
  if (panel.size() < static_cast<size_t>(p.n_kv_heads * panel_floats))
    panel.resize(static_cast<size_t>(p.n_kv_heads * panel_floats));
  float* kt = panel.data();
  // Tokens per block: rows (block * rep) a multiple of 8, about 64 of them.
  const int64_t block = 8 * std::max<int64_t>(1, 8 / rep);
  const int64_t n_blocks = (p.n_tokens + block - 1) / block;
  const int64_t n_items = n_blocks * p.n_kv_heads;
  auto transpose = [&](int ith, int nth) {
    for (int64_t g = ith; g < p.n_kv_heads; g += nth)
      transpose_keys(k + g * hd, keys, p.kv_stride, hd, kt + g * panel_floats);
  };
  auto attend = [&](int ith, int nth) {
    thread_local std::vector<float> scratch;
    // Round robin: later blocks see more keys.
    for (int64_t it = ith; it < n_items; it += nth) {
      const int64_t b = it / p.n_kv_heads, g = it % p.n_kv_heads;
      const int64_t t0 = b * block, nt = std::min(block, p.n_tokens - t0);
      const size_t need = static_cast<size_t>(attend_block_scratch(nt, p.pos0 + t0, hd, rep));
      if (scratch.size() < need) scratch.resize(need);
      const int64_t off = t0 * p.n_heads * hd + g * rep * hd;
      kern.attend_block(q + off, p.n_heads * hd, nt, p.pos0 + t0, kt + g * panel_floats,
                        v + g * hd, p.kv_stride, hd, rep, p.scale, scratch.data(), out + off);
    }
  };
  if (pool.size() == 1) {
    transpose(0, 1);
    attend(0, 1);
  } else {
    pool.run(transpose);
    pool.run(attend);
  }
}

}  // namespace

void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out,
               const AttentionParams& p) {
  const auto& kern = ops_kernels();
  if (kern.attend_block && attend_block_hd(p.head_dim) && p.n_tokens >= 8)
    return attention_blocks(pool, kern, q, k, v, out, p);
  const int64_t hd = p.head_dim;
  const int64_t rep = p.n_heads / p.n_kv_heads;
  const int nth = pool.size();
  // A work item is one token and one K/V head with its `rep` query heads
  // (each K/V row is loaded once for all of them). With fewer items than
  // threads (decoding), each item's keys are split into `chunks` ranges whose
  // partial softmax sums are merged afterwards (flash-decoding).
  const int64_t n_items = p.n_tokens * p.n_kv_heads;
  const int64_t max_keys = p.pos0 + p.n_tokens;
  int64_t chunks = 1;
  if (p.n_tokens == 1 && nth > 1 && max_keys >= 128 * nth) {
    // One decode token: thread i takes key range i of every K/V head (units
    // are dealt round robin, item-major), so each thread reads one contiguous
    // range of whole cache rows, which come from memory in decode and stream
    // well only when contiguous (split by head, each thread read every other
    // run of head_dim floats of every row).
    chunks = nth;
  } else if (n_items < nth && max_keys >= 512) {
    chunks = std::min<int64_t>((nth + n_items - 1) / n_items, max_keys / 256);
  }
  const int64_t n_units = n_items * chunks;
  // Partial results of each unit (only used when chunks > 1): acc, m, l.
  thread_local std::vector<float> partial;
  const int64_t unit_floats = rep * (hd + 2);
  if (chunks > 1) partial.resize(static_cast<size_t>(n_units * unit_floats));
  float* partial_data = partial.data();

  auto work = [&](int ith, int nth_run) {
    thread_local std::vector<float> scratch, acc, ml;
    acc.resize(static_cast<size_t>(rep * hd));
    ml.resize(static_cast<size_t>(2 * rep));
    // Round robin: causal items grow with the token index, so contiguous
    // ranges would leave the last thread the longest ones.
    for (int64_t u = ith; u < n_units; u += nth_run) {
      const int64_t item = u / chunks, c = u % chunks;
      const int64_t t = item / p.n_kv_heads, g = item % p.n_kv_heads;
      const int64_t kv_len = p.pos0 + t + 1;  // causal: keys 0 .. pos0 + t
      int64_t j0 = 0, j1 = kv_len;
      if (chunks > 1) ThreadPool::split(kv_len, static_cast<int>(c), static_cast<int>(chunks), &j0, &j1);
      float* m = chunks > 1 ? partial_data + u * unit_floats + rep * hd : ml.data();
      float* l = m + rep;
      float* a = chunks > 1 ? partial_data + u * unit_floats : acc.data();
      if (j0 >= j1) {  // an empty range contributes nothing
        for (int64_t r = 0; r < rep; ++r) m[r] = -INFINITY, l[r] = 0;
        std::fill(a, a + rep * hd, 0.0f);
        continue;
      }
      const size_t need = static_cast<size_t>(rep * (j1 - j0));
      if (scratch.size() < need) scratch.resize(need);
      const int64_t h0 = g * rep;
      kern.attend(q + (t * p.n_heads + h0) * hd, k + j0 * p.kv_stride + g * hd,
                  v + j0 * p.kv_stride + g * hd, j1 - j0, p.kv_stride, hd, rep, p.scale,
                  scratch.data(), a, m, l);
      if (chunks == 1) {
        float* o = out + (t * p.n_heads + h0) * hd;
        for (int64_t r = 0; r < rep; ++r) {
          const float inv = 1.0f / l[r];
          for (int64_t d = 0; d < hd; ++d) o[r * hd + d] = a[r * hd + d] * inv;
        }
      }
    }
  };
  const int64_t work_floats = n_items * max_keys * hd * 2;
  if (nth == 1 || n_units == 1 || work_floats < kMinParallelFloats) {
    work(0, 1);
  } else {
    pool.run(work);
  }
  if (chunks == 1) return;
  // Merge the chunks of each item: rescale each to the common maximum.
  for (int64_t item = 0; item < n_items; ++item) {
    const int64_t t = item / p.n_kv_heads, g = item % p.n_kv_heads;
    float* o = out + (t * p.n_heads + g * rep) * hd;
    for (int64_t r = 0; r < rep; ++r) {
      float mx = -INFINITY;
      for (int64_t c = 0; c < chunks; ++c)
        mx = std::max(mx, partial_data[(item * chunks + c) * unit_floats + rep * hd + r]);
      float sum = 0;
      std::fill(o + r * hd, o + (r + 1) * hd, 0.0f);
      for (int64_t c = 0; c < chunks; ++c) {
        const float* base = partial_data + (item * chunks + c) * unit_floats;
        const float m = base[rep * hd + r], l = base[rep * hd + rep + r];
        if (l == 0) continue;
        const float w = std::exp(m - mx);
        sum += l * w;
        for (int64_t d = 0; d < hd; ++d) o[r * hd + d] += base[r * hd + d] * w;
      }
      const float inv = 1.0f / sum;
      for (int64_t d = 0; d < hd; ++d) o[r * hd + d] *= inv;
    }
  }
}

}  // namespace scn::inference::cpu
