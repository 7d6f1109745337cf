// `scn bench membw`: the machine's memory read bandwidth, measured with the
// CPU backend's STREAM-like probe (inference/backend/cpu/membw.h) on a
// thread pool of the given size, as the inference benchmark uses it.
//
// Contract: measure_membw_gbs() returns GB/s (1e9 bytes/s) read from a
// buffer of `bytes` bytes (much larger than the last-level cache for a
// meaningful figure); threads <= 0 means all cores.
#pragma once

#include <cstddef>

namespace scn::bench {

double measure_membw_gbs(int threads, size_t bytes);

}  // namespace scn::bench
