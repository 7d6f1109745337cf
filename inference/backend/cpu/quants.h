// Reference (scalar) conversion between float rows and every supported
// GGUF weight type, with the exact ggml block layouts. These are the ground
// truth that the SIMD kernels are tested against and what `scn gguf
// quantize` uses to write files.
//
// Contract: n is a multiple of block_size(type); src/dst are not aliased.
// Functions return kUnprocessable for a type they do not handle.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "inference/gguf/ggml_type.h"

namespace scn::inference {

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

// True when rows of type t can be written by quantize_row (n % block_size == 0).
bool can_quantize(GgmlType t, int64_t n);
Status quantize_row(GgmlType t, const float* src, void* dst, int64_t n);
Status dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

}  // namespace scn::inference
