// KvCache storage (see kv_cache.h).
#include "inference/model/kv_cache.h"

#include <cstdlib>
#include <new>

namespace scn::inference {

namespace {

// Zeroed floats; large blocks come straight from mmap, so untouched pages
// cost no memory.
float* zeroed(size_t n) {
  void* p = std::calloc(n == 0 ? 1 : n, sizeof(float));
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

}  // namespace

void KvCache::Free::operator()(float* p) const { std::free(p); }

KvCache::KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim)
    : n_layer_(n_layer),
      n_ctx_(n_ctx),
      kv_dim_(kv_dim),
      k_(zeroed(static_cast<size_t>(n_layer) * layer_floats())),
      v_(zeroed(static_cast<size_t>(n_layer) * layer_floats())) {}

}  // namespace scn::inference
