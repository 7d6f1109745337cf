#include "inference/backend/cpu/membw.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "inference/backend/cpu/cpu_features.h"
#include "inference/backend/cpu/membw_kernels.h"

namespace scn::inference::cpu {

double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes) {
  bytes = (bytes + 4095) / 4096 * 4096;
  if (bytes == 0) return 0;
  void* mem = std::aligned_alloc(4096, bytes);
  if (mem == nullptr) return 0;
  auto* buf = static_cast<uint8_t*>(mem);
  const int nth = pool.size();
  // First touch by the thread that will read each part (NUMA-friendly).
  pool.run([&](int ith, int n) {
    int64_t b, e;
    ThreadPool::split(static_cast<int64_t>(bytes / 4096), ith, n, &b, &e);
    if (b < e) std::memset(buf + b * 4096, ith + 1, (e - b) * 4096);
  });
  const Isa isa = active_isa();
  std::vector<uint64_t> sink(nth * 8, 0);
  double best = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0; pass < 40; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int ith, int n) {
      int64_t b, e;
      ThreadPool::split(static_cast<int64_t>(bytes / 4096), ith, n, &b, &e);
      if (b < e) sink[ith * 8] += read_sum(isa, buf + b * 4096, (e - b) * 4096);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass > 0 && s > 0) best = std::max(best, static_cast<double>(bytes) / s / 1e9);
    if (pass >= 3 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > 0.3)
      break;
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sink) keep = keep + v;
  std::free(mem);
  return best;
}

}  // namespace scn::inference::cpu
