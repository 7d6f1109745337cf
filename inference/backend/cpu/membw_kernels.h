// Read loops of the bandwidth probe (membw.cpp), one per ISA: sum the
// 64-bit words of [p, p + bytes) (bytes a multiple of 4096, p 64-aligned)
// so the loads cannot be optimized away.
#pragma once

#include <cstddef>
#include <cstdint>

#include "inference/backend/cpu/cpu_features.h"

namespace scn::inference::cpu {

uint64_t read_sum_avx512(const uint8_t* p, size_t bytes);
uint64_t read_sum_avx2(const uint8_t* p, size_t bytes);
uint64_t read_sum(Isa isa, const uint8_t* p, size_t bytes);

}  // namespace scn::inference::cpu
