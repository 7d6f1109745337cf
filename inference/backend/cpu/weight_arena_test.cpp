// weight_alloc/weight_free: alignment, zeroed memory, small weights sharing
// slabs and large ones alone, freeing in any order (a slab goes when its
// last weight does), and the memory staying writable until freed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "inference/backend/cpu/weight_arena.h"

namespace scn::inference::cpu {
namespace {

TEST_CASE("weight arena: aligned, zeroed, disjoint blocks freed in any order") {
  std::mt19937 rng(7);
  const std::vector<size_t> sizes{1, 63, 64, 65, 4096, 451584, size_t{3} << 20,
                                  kSlabBytes / 2, kSlabBytes / 2 + 1, kSlabBytes + 100};
  struct Block {
    uint8_t* p;
    size_t n;
    uint8_t fill;
  };
  std::vector<Block> blocks;
  for (int round = 0; round < 6; ++round)
    for (size_t n : sizes) {
      auto* p = static_cast<uint8_t*>(weight_alloc(n));
      REQUIRE(p != nullptr);
      CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
      bool zero = true;
      for (size_t i = 0; i < n; i += 997) zero = zero && p[i] == 0;
      CHECK(zero);
      CHECK(p[n - 1] == 0);
      const auto fill = static_cast<uint8_t>(blocks.size() + 1);
      std::memset(p, fill, n);
      blocks.push_back({p, n, fill});
    }
  // Free half at random, then check the rest kept their bytes (no overlap,
  // no slab unmapped under a live block), then free the rest.
  std::shuffle(blocks.begin(), blocks.end(), rng);
  const size_t half = blocks.size() / 2;
  for (size_t i = 0; i < half; ++i) weight_free(blocks[i].p);
  for (size_t i = half; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    CHECK(b.p[0] == b.fill);
    CHECK(b.p[b.n / 2] == b.fill);
    CHECK(b.p[b.n - 1] == b.fill);
  }
  for (size_t i = half; i < blocks.size(); ++i) weight_free(blocks[i].p);
  weight_free(nullptr);
}

}  // namespace
}  // namespace scn::inference::cpu
