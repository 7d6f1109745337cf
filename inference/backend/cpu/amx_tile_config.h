// The 64-byte tile configuration LDTILECFG reads (Intel SDM, "Tile
// Configuration"): palette 1, then each tile's bytes per row (colsb) and row
// count. Shared by the AMX matmul paths (matmul_amx.cpp, matmul_q8_amx.cpp,
// matmul_i8_amx.cpp), each of which fills it for its own tile layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "common/aligned_allocator.h"

namespace scn::inference::cpu {

struct alignas(64) AmxTileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(AmxTileConfig) == 64);

template <class T>
using Align64Allocator = common::AlignedAllocator<T, 64>;

template <class T>
using AmxVector = std::vector<T, Align64Allocator<T>>;

}  // namespace scn::inference::cpu
