// GGUF metadata values: construction, typed views, and the size arithmetic
// shared by the reader and the writer.
#include <limits>

#include "inference/gguf/gguf.h"

namespace scn::inference {

size_t GgufArray::size() const {
  switch (type) {
    case GgufValueType::STRING: return strings.size();
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: return floats.size();
    default: return ints.size();
  }
}

GgufArray GgufArray::of_strings(std::vector<std::string> v) {
  GgufArray a;
  a.type = GgufValueType::STRING;
  a.strings = std::move(v);
  return a;
}

GgufArray GgufArray::of_ints(GgufValueType t, std::vector<int64_t> v) {
  GgufArray a;
  a.type = t;
  a.ints = std::move(v);
  return a;
}

GgufArray GgufArray::of_floats(GgufValueType t, std::vector<double> v) {
  GgufArray a;
  a.type = t;
  a.floats = std::move(v);
  return a;
}

std::string_view value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "uint8";
    case GgufValueType::INT8: return "int8";
    case GgufValueType::UINT16: return "uint16";
    case GgufValueType::INT16: return "int16";
    case GgufValueType::UINT32: return "uint32";
    case GgufValueType::INT32: return "int32";
    case GgufValueType::FLOAT32: return "float32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "uint64";
    case GgufValueType::INT64: return "int64";
    case GgufValueType::FLOAT64: return "float64";
  }
  return "?";
}

std::optional<uint64_t> GgufValue::as_u64() const {
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<int64_t> GgufValue::as_i64() const {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

std::optional<double> GgufValue::as_f64() const {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<uint64_t>(&v)) return static_cast<double>(*u);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return std::get_if<std::string>(&v); }
const GgufArray* GgufValue::as_array() const { return std::get_if<GgufArray>(&v); }

namespace {
GgufValue make(GgufValueType t, decltype(GgufValue::v) v) {
  GgufValue g;
  g.type = t;
  g.v = std::move(v);
  return g;
}
}  // namespace

GgufValue GgufValue::u8(uint8_t x) { return make(GgufValueType::UINT8, uint64_t{x}); }
GgufValue GgufValue::i8(int8_t x) { return make(GgufValueType::INT8, int64_t{x}); }
GgufValue GgufValue::u16(uint16_t x) { return make(GgufValueType::UINT16, uint64_t{x}); }
GgufValue GgufValue::i16(int16_t x) { return make(GgufValueType::INT16, int64_t{x}); }
GgufValue GgufValue::u32(uint32_t x) { return make(GgufValueType::UINT32, uint64_t{x}); }
GgufValue GgufValue::i32(int32_t x) { return make(GgufValueType::INT32, int64_t{x}); }
GgufValue GgufValue::u64(uint64_t x) { return make(GgufValueType::UINT64, x); }
GgufValue GgufValue::i64(int64_t x) { return make(GgufValueType::INT64, x); }
GgufValue GgufValue::f32(float x) { return make(GgufValueType::FLOAT32, double{x}); }
GgufValue GgufValue::f64(double x) { return make(GgufValueType::FLOAT64, x); }
GgufValue GgufValue::boolean(bool x) { return make(GgufValueType::BOOL, x); }
GgufValue GgufValue::str(std::string s) { return make(GgufValueType::STRING, std::move(s)); }
GgufValue GgufValue::array(GgufArray a) { return make(GgufValueType::ARRAY, std::move(a)); }

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;  // checked by the reader / writer
  return n;
}

std::optional<uint64_t> tensor_nbytes(GgmlType type, std::span<const int64_t> dims) {
  auto tt = type_traits(static_cast<uint32_t>(type));
  if (!tt || dims.empty() || dims.size() > 4) return std::nullopt;
  for (int64_t d : dims)
    if (d <= 0) return std::nullopt;
  if (dims[0] % tt->block_size != 0) return std::nullopt;
  // Element count must fit int64 (ggml's int64_t ne), bytes must fit uint64.
  int64_t elems = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(elems, d, &elems)) return std::nullopt;
  uint64_t bytes = static_cast<uint64_t>(dims[0] / tt->block_size);
  if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(tt->type_size), &bytes))
    return std::nullopt;
  for (size_t i = 1; i < dims.size(); ++i)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dims[i]), &bytes)) return std::nullopt;
  return bytes;
}

}  // namespace scn::inference
