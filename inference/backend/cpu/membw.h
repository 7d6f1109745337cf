// A STREAM-like probe of the memory read bandwidth the CPU kernels can
// reach: every pool thread sums its share of a buffer far larger than the
// caches (AVX-512/AVX2 loads when available), best of several passes.
//
// Contract: measure_read_bandwidth_gbs allocates `bytes` (rounded up to
// 4 KiB; at least 64 MiB is sensible — several times the last-level cache),
// touches it once, then times full read passes for about 0.3 s and returns
// the best pass in GB/s (1e9 bytes per second). Returns 0 if the buffer
// cannot be allocated.
#pragma once

#include <cstddef>

#include "inference/backend/thread_pool.h"

namespace scn::inference::cpu {

double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes);

}  // namespace scn::inference::cpu
