#include <cstring>

#include "inference/backend/cpu/membw_kernels.h"

namespace scn::inference::cpu {

uint64_t read_sum(Isa isa, const uint8_t* p, size_t bytes) {
  if (isa == Isa::kAvx512) return read_sum_avx512(p, bytes);
  if (isa == Isa::kAvx2) return read_sum_avx2(p, bytes);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < bytes; i += 32) {
    uint64_t v[4];
    std::memcpy(v, p + i, 32);
    s0 += v[0]; s1 += v[1]; s2 += v[2]; s3 += v[3];
  }
  return s0 + s1 + s2 + s3;
}

}  // namespace scn::inference::cpu
