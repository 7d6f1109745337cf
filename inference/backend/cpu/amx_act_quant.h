// One block of 32 activations quantized to int8 as Q8_0 does it (scale
// d = max |x| / 127, q = round(x / d)), for the AMX int8 paths
// (matmul_q8_amx.cpp, matmul_i8_amx.cpp). AVX-512 intrinsics: include only
// from files built with the AMX flags (*_amx.cpp).
#pragma once

#include <immintrin.h>

namespace scn::inference::cpu {

struct Q8Block {
  __m512i q0, q1;  // the int8 values of x[0..16) and x[16..32), one per int32 lane
  float d;         // the block's scale
};

[[gnu::always_inline]] inline Q8Block quantize_q8_block(const float* x) {
  const __m512 sign = _mm512_set1_ps(-0.f);
  const __m512 x0 = _mm512_loadu_ps(x);
  const __m512 x1 = _mm512_loadu_ps(x + 16);
  const float amax =
      _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, x0), _mm512_andnot_ps(sign, x1)));
  const __m512 vid = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
  return {_mm512_cvtps_epi32(_mm512_mul_ps(x0, vid)), _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid)),
          amax / 127.f};
}

}  // namespace scn::inference::cpu
