// GGUF (v2 and v3) files: a reader over mmap and a writer.
//
// Reader contract: GgufFile::open() validates the whole header before it
// returns — magic, version, every count, string and array length, value type
// id, tensor name, dimension, type id, offset, the alignment and each
// tensor's byte range — with overflow-safe arithmetic. A file that fails any
// check yields Status kCorruptData whose message names what is wrong and
// where (e.g. "tensor 'blk.0.attn_q.weight': data [off, off+n) lies past the
// end of the file (size ...)"). After a successful open, every accessor is
// safe: tensor data pointers point inside the mapping, which lives as long as
// the GgufFile.
//
// Writer contract: GgufWriter builds a v3 file in memory-order (metadata,
// tensor infos, aligned data) and writes it atomically (temp file + rename).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "inference/gguf/ggml_type.h"

namespace scn::inference {

namespace detail {
class GgufSink;  // gguf_writer.cpp
}

// GGUF metadata value types (gguf_type in the spec).
enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5,
  FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// An array value: elements of one scalar or string type (nested arrays are
// rejected by the reader as unsupported).
struct GgufArray {
  GgufValueType type = GgufValueType::UINT8;
  std::vector<std::string> strings;  // type == STRING
  std::vector<int64_t> ints;         // integer and bool types (UINT64 as its bit pattern)
  std::vector<double> floats;        // FLOAT32 / FLOAT64
  size_t size() const;

  static GgufArray of_strings(std::vector<std::string> v);
  static GgufArray of_ints(GgufValueType t, std::vector<int64_t> v);    // any integer type or BOOL
  static GgufArray of_floats(GgufValueType t, std::vector<double> v);  // FLOAT32 or FLOAT64
};

// "uint32", "string", "array", ... ("?" for an unknown id).
std::string_view value_type_name(GgufValueType t);

struct GgufValue {
  GgufValueType type = GgufValueType::UINT32;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> v;

  // Typed views; nullopt when the stored type does not convert losslessly
  // (e.g. get_u32 on a negative INT32 or on a STRING).
  std::optional<uint64_t> as_u64() const;
  std::optional<int64_t> as_i64() const;
  std::optional<double> as_f64() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const GgufArray* as_array() const;

  static GgufValue u8(uint8_t x);
  static GgufValue i8(int8_t x);
  static GgufValue u16(uint16_t x);
  static GgufValue i16(int16_t x);
  static GgufValue u32(uint32_t x);
  static GgufValue i32(int32_t x);
  static GgufValue u64(uint64_t x);
  static GgufValue i64(int64_t x);
  static GgufValue f32(float x);
  static GgufValue f64(double x);
  static GgufValue boolean(bool x);
  static GgufValue str(std::string s);
  static GgufValue array(GgufArray a);
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the contiguous (row) length
  uint64_t offset = 0;        // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // inside the mapping (reader only)

  int64_t n_elements() const;
  int64_t ne(size_t i) const { return i < dims.size() ? dims[i] : 1; }
};

class GgufFile {
 public:
  // Maps and validates `path`. Errors: kIoError (cannot open/map),
  // kCorruptData (any structural problem), kUnprocessable (a valid file using
  // a feature scn does not support, such as an unknown tensor type).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Same checks over bytes already in memory (not copied; must outlive the file).
  static Result<std::unique_ptr<GgufFile>> from_memory(const uint8_t* data, size_t size);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  // Convenience getters: nullopt when absent or of a non-convertible type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint64_t> get_u64(std::string_view key) const;
  std::optional<int64_t> get_i64(std::string_view key) const;
  std::optional<double> get_f64(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  const GgufArray* get_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  friend class GgufParser;
  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool owns_mapping_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Bytes of a tensor of `type` and `dims` (ggml order), checked: nullopt when
// dims are empty/over 4/non-positive, dims[0] is not a multiple of the block
// size, or the size overflows.
std::optional<uint64_t> tensor_nbytes(GgmlType type, std::span<const int64_t> dims);

class GgufWriter {
 public:
  // Fills `dst` (exactly the tensor's byte size) with the tensor's data.
  using TensorFiller = std::function<Status(std::span<uint8_t> dst)>;

  // `alignment` must be a power of two; when it is not 32 the file carries
  // general.alignment (u32) so readers find the data.
  explicit GgufWriter(uint64_t alignment = 32) : alignment_(alignment) {}
  // Sets (or replaces) a metadata key; order of first insertion is kept.
  void set(std::string key, GgufValue value);
  const GgufValue* find(std::string_view key) const;
  // Adds a tensor; `data` must hold exactly row_size(type, dims[0]) *
  // (product of the other dims) bytes, and is copied. Errors
  // (kInvalidArgument): empty, too long (>= 64 bytes) or duplicate name, bad
  // dims, unknown type, wrong data size.
  Status add_tensor(std::string name, GgmlType type, std::vector<int64_t> dims,
                    std::span<const uint8_t> data);
  // Same checks, but the data is produced by `fill` when the file is written
  // (one tensor in memory at a time: for files larger than memory allows).
  Status add_tensor_lazy(std::string name, GgmlType type, std::vector<int64_t> dims,
                         TensorFiller fill);
  size_t tensor_count() const { return tensors_.size(); }
  // Writes the file atomically (path + ".tmp", then rename).
  Status write(const std::string& path) const;
  // The serialized bytes (for tests that corrupt them). Fails
  // (kInvalidArgument) when the alignment is not a power of two, or with the
  // status of a lazy tensor's failing filler.
  Result<std::vector<uint8_t>> serialize() const;
  std::vector<uint8_t> to_bytes() const;  // serialize(), empty on failure

 private:
  struct Pending {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;
    uint64_t nbytes = 0;
    std::vector<uint8_t> data;  // when fill is empty
    TensorFiller fill;
  };
  Status check_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& dims,
                      uint64_t* nbytes) const;
  Status emit(detail::GgufSink& sink) const;
  uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace scn::inference
