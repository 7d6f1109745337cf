// Tensor element types of the GGUF format and their block geometry.
//
// Contract: the numeric values are those written in GGUF files (ggml's
// enum ggml_type). A row of `n` elements of type t occupies
// row_size(t, n) bytes and n must be a multiple of block_size(t).
// Types scn can neither compute with nor convert are reported by
// is_supported() == false; reading a file that uses one is an error that
// names the type, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace scn::inference {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

inline constexpr int kQK = 32;    // elements per block of the legacy quants
inline constexpr int kQK_K = 256; // elements per super-block of the K-quants

struct TypeTraits {
  std::string_view name;  // "q4_K", as ggml prints it
  int64_t block_size;     // elements per block
  size_t type_size;       // bytes per block
  bool supported;         // scn can dequantize / compute with it
};

// Traits of a known type id, or nullopt for ids that no ggml version defined.
std::optional<TypeTraits> type_traits(uint32_t id);
const TypeTraits& traits(GgmlType t);  // t must be a known id

inline std::string_view type_name(GgmlType t) { return traits(t).name; }
inline int64_t block_size(GgmlType t) { return traits(t).block_size; }
inline size_t type_size(GgmlType t) { return traits(t).type_size; }
// Bytes of a row of n elements (n a multiple of block_size(t)).
inline size_t row_size(GgmlType t, int64_t n) {
  return static_cast<size_t>(n / block_size(t)) * type_size(t);
}
// Parses "q8_0", "Q8_0", "f16", "bf16", ... (case-insensitive).
std::optional<GgmlType> parse_type_name(std::string_view s);

}  // namespace scn::inference
