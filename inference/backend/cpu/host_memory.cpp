// Host backend memory and paged-KV copies (see host_memory.h).
#include "inference/backend/cpu/host_memory.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace scn::inference {

namespace {
constexpr size_t kAlign = 64;
}  // namespace

void* host_alloc(size_t bytes) {
  // calloc gives zeroed (lazily committed) memory; the aligned pointer keeps
  // the raw one just below it.
  if (bytes > SIZE_MAX - 2 * kAlign) return nullptr;
  void* raw = std::calloc(bytes + 2 * kAlign, 1);
  if (!raw) return nullptr;
  auto a = (reinterpret_cast<uintptr_t>(raw) + sizeof(void*) + kAlign - 1) & ~(kAlign - 1);
  reinterpret_cast<void**>(a)[-1] = raw;
  return reinterpret_cast<void*>(a);
}

void host_free(void* p) {
  if (p) std::free(static_cast<void**>(p)[-1]);
}

void host_kv_store(const KvLayer& kv, const float* k, const float* v, const PagedBatch& b) {
  const size_t row_bytes = static_cast<size_t>(kv.kv_dim) * sizeof(float);
  for (int32_t r = 0; r < b.n_rows; ++r) {
    const int32_t slot = b.row_slot[r];
    const int64_t off = static_cast<int64_t>(slot / kv.block_tokens) * kv.block_stride +
                        static_cast<int64_t>(slot % kv.block_tokens) * kv.kv_dim;
    std::memcpy(kv.k + off, k + static_cast<size_t>(r) * kv.kv_dim, row_bytes);
    std::memcpy(kv.v + off, v + static_cast<size_t>(r) * kv.kv_dim, row_bytes);
  }
}

void host_gather_kv(const KvLayer& kv, const int32_t* blocks, int64_t len, float* k, float* v) {
  const int64_t bt = kv.block_tokens;
  for (int64_t p = 0; p < len; p += bt) {
    const int64_t off = static_cast<int64_t>(blocks[p / bt]) * kv.block_stride;
    const size_t bytes = static_cast<size_t>(std::min(bt, len - p) * kv.kv_dim) * sizeof(float);
    std::memcpy(k + p * kv.kv_dim, kv.k + off, bytes);
    std::memcpy(v + p * kv.kv_dim, kv.v + off, bytes);
  }
}

void host_gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim, float* out) {
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * dim, x + static_cast<int64_t>(rows[i]) * dim,
                static_cast<size_t>(dim) * sizeof(float));
}

void host_argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids) {
  for (int64_t i = 0; i < n; ++i) {
    // NaN counts as -inf (the engine's Sampler does the same): it never wins.
    const float* l = logits + i * n_vocab;
    auto val = [&](int64_t j) { return std::isnan(l[j]) ? -INFINITY : l[j]; };
    int64_t best = 0;
    float best_v = val(0);
    for (int64_t j = 1; j < n_vocab; ++j)
      if (val(j) > best_v) {
        best = j;
        best_v = val(j);
      }
    ids[i] = static_cast<int32_t>(best);
  }
}

}  // namespace scn::inference
