#include "bench/membw_bench.h"

#include <thread>

#include "inference/backend/cpu/membw.h"
#include "inference/backend/thread_pool.h"

namespace scn::bench {

double measure_membw_gbs(int threads, size_t bytes) {
  if (threads <= 0) {
    const unsigned n = std::thread::hardware_concurrency();
    threads = n > 0 ? static_cast<int>(n) : 1;
  }
  inference::ThreadPool pool(threads);
  return inference::cpu::measure_read_bandwidth_gbs(pool, bytes);
}

}  // namespace scn::bench
