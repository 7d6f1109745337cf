// The simulated national pool and model mix of `scn sim` (sim.h): building
// blocks, split from the event loop. Internal to scheduler/sim.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog_file.h"
#include "common/status.h"
#include "scheduler/snapshot.h"

namespace scn::scheduler::sim {

// splitmix64: the one random stream of a run (std distributions differ
// across platforms; this does not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return n == 0 ? 0 : static_cast<uint32_t>(next() % n); }
  bool chance(uint32_t percent) { return below(100) < percent; }

 private:
  uint64_t s_;
};

struct GpuModel {
  std::string name;
  uint64_t memory_bytes = 0;
  uint32_t weight = 1;
};

// "H200:2,L40S:1" over the known models (H200, H100, A100-80G, Ascend-910B,
// L40S); weights >= 1. InvalidArgument naming the bad entry.
Result<std::vector<GpuModel>> parse_gpu_mix(const std::string& text);

// The i-th province name (31 mainland provinces, cycling).
const char* province(int i);

// The pool: see sim.h. Every node is flagged simulated.
Snapshot make_national_pool(int centers, int nodes_per_center, const std::vector<GpuModel>& mix, Rng& rng,
                            const std::vector<std::string>& model_keys);

struct SimModel {
  std::string key;  // "<card>/<quantization>"
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes_per_token = 0;
  uint32_t max_context = 0;
};

// Every file of every card, with catalog::requirements().
std::vector<SimModel> sim_models(const catalog::Catalog& catalog);

}  // namespace scn::scheduler::sim
