// Backend memory and the paged-KV glue of the host-memory backends (CPU and
// reference): their backend memory is ordinary host memory.
//
// Contract:
//  - host_alloc(bytes): zeroed memory aligned to 64 bytes (large blocks come
//    from calloc, so the OS commits their pages as they are written), null
//    when it cannot be had; host_free(p) releases it (null is ignored).
//  - host_kv_store / host_gather_rows / host_argmax implement the Backend ops
//    kv_store, gather_rows and argmax (backend.h) on host pointers.
//    host_argmax: the lowest id of the largest value; NaN never wins (as the
//    engine's greedy sampler treats NaN as -inf); all NaN gives id 0.
//  - host_gather_kv copies positions [0, len) of a sequence with block table
//    `blocks` from layer `kv` into contiguous k[len][kv_dim], v[len][kv_dim].
#pragma once

#include <cstddef>
#include <cstdint>

#include "inference/backend/backend.h"

namespace scn::inference {

void* host_alloc(size_t bytes);
void host_free(void* p);

void host_kv_store(const KvLayer& kv, const float* k, const float* v, const PagedBatch& b);
void host_gather_kv(const KvLayer& kv, const int32_t* blocks, int64_t len, float* k, float* v);
void host_gather_rows(const float* x, const int32_t* rows, int64_t n, int64_t dim, float* out);
void host_argmax(const float* logits, int64_t n, int64_t n_vocab, int32_t* ids);

}  // namespace scn::inference
