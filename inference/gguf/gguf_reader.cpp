// GGUF reader: maps the file and validates every field of the header before
// anything is handed out. All reads go through Cursor, which never reads past
// the end; all sizes are computed with overflow checks.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "inference/gguf/gguf.h"

namespace scn::inference {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr size_t kMaxTensorName = 64;    // ggml's GGML_MAX_NAME (incl. NUL)
constexpr uint32_t kMaxDims = 4;

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Bounds-checked little-endian reader over [base, base+size).
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size) : base_(base), size_(size) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status read(T* out, std::string_view what) {
    if (remaining() < sizeof(T)) return truncated(what, sizeof(T));
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  // `index` >= 0 names an array element in messages.
  Status read_string(std::string* out, std::string_view what, int64_t index = -1) {
    size_t at = pos_;
    uint64_t len = 0;
    if (remaining() < sizeof len) return truncated(describe(what, index) + " length", sizeof len);
    SCN_RETURN_IF_ERROR(read(&len, what));
    if (len > remaining())
      return Status::corrupt(describe(what, index) + " at byte " + std::to_string(at) +
                             ": length " + std::to_string(len) + " exceeds the " +
                             std::to_string(remaining()) + " bytes left in the file");
    out->assign(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return Status::ok();
  }

  static std::string describe(std::string_view what, int64_t index) {
    std::string s(what);
    if (index >= 0) s += "[" + std::to_string(index) + "]";
    return s;
  }

  Status truncated(std::string_view what, size_t need) const {
    return Status::corrupt("truncated file: " + std::string(what) + " at byte " +
                           std::to_string(pos_) + " needs " + std::to_string(need) +
                           " bytes, file size is " + std::to_string(size_));
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
};

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

// Smallest encoded size of one element of type t (for plausibility checks of
// counts before anything is allocated).
size_t min_encoded_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

}  // namespace

class GgufParser {
 public:
  GgufParser(GgufFile* f) : f_(f), c_(f->base_, f->size_) {}

  Status parse() {
    uint32_t magic = 0;
    SCN_RETURN_IF_ERROR(c_.read(&magic, "magic"));
    if (magic != kMagic)
      return Status::corrupt("not a GGUF file: magic is " + hex(magic) + ", expected 'GGUF'");
    SCN_RETURN_IF_ERROR(c_.read(&f_->version_, "version"));
    if (f_->version_ == 1)
      return Status::unprocessable("GGUF version 1 is not supported (only v2 and v3); "
                                   "convert the file with a current llama.cpp");
    if (f_->version_ != 2 && f_->version_ != 3)
      return Status::corrupt("unknown GGUF version " + std::to_string(f_->version_) +
                             " (supported: 2, 3)");
    uint64_t n_tensors = 0, n_kv = 0;
    SCN_RETURN_IF_ERROR(c_.read(&n_tensors, "tensor count"));
    SCN_RETURN_IF_ERROR(c_.read(&n_kv, "metadata count"));
    // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes, each
    // tensor info at least 8 + 4 + 8 + 4 + 8.
    if (n_kv > c_.remaining() / 13)
      return Status::corrupt("metadata count " + std::to_string(n_kv) +
                             " is impossible for a file of " + std::to_string(f_->size_) + " bytes");
    if (n_tensors > c_.remaining() / 32)
      return Status::corrupt("tensor count " + std::to_string(n_tensors) +
                             " is impossible for a file of " + std::to_string(f_->size_) + " bytes");

    f_->kv_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) SCN_RETURN_IF_ERROR(parse_kv(i));
    SCN_RETURN_IF_ERROR(read_alignment());

    f_->tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) SCN_RETURN_IF_ERROR(parse_tensor_info(i));
    return place_tensors();
  }

 private:
  Status parse_kv(uint64_t index) {
    size_t at = c_.pos();
    std::string key;
    SCN_RETURN_IF_ERROR(c_.read_string(&key, "key of metadata entry " + std::to_string(index)));
    if (key.empty())
      return Status::corrupt("metadata entry " + std::to_string(index) + " at byte " +
                             std::to_string(at) + " has an empty key");
    std::string where = "metadata '" + key + "'";
    if (f_->kv_index_.count(key)) return Status::corrupt("duplicate " + where + " at byte " + std::to_string(at));
    uint32_t type = 0;
    SCN_RETURN_IF_ERROR(c_.read(&type, where + " type"));
    GgufValue value;
    SCN_RETURN_IF_ERROR(parse_value(type, where, &value));
    f_->kv_index_.emplace(key, f_->kv_.size());
    f_->kv_.emplace_back(std::move(key), std::move(value));
    return Status::ok();
  }

  Status bad_type(uint32_t type, const std::string& where) {
    return Status::corrupt(where + ": unknown value type id " + std::to_string(type) +
                           " near byte " + std::to_string(c_.pos()));
  }

  Status parse_value(uint32_t type, const std::string& where, GgufValue* out) {
    if (!valid_value_type(type)) return bad_type(type, where);
    auto t = static_cast<GgufValueType>(type);
    out->type = t;
    switch (t) {
      case GgufValueType::STRING: {
        std::string s;
        SCN_RETURN_IF_ERROR(c_.read_string(&s, where));
        out->v = std::move(s);
        return Status::ok();
      }
      case GgufValueType::ARRAY: {
        GgufArray a;
        SCN_RETURN_IF_ERROR(parse_array(where, &a));
        out->v = std::move(a);
        return Status::ok();
      }
      case GgufValueType::FLOAT32:
      case GgufValueType::FLOAT64: {
        double d = 0;
        SCN_RETURN_IF_ERROR(read_float(t, where, &d));
        out->v = d;
        return Status::ok();
      }
      case GgufValueType::BOOL: {
        int64_t b = 0;
        SCN_RETURN_IF_ERROR(read_int(t, where, &b));
        out->v = b != 0;
        return Status::ok();
      }
      case GgufValueType::UINT8:
      case GgufValueType::UINT16:
      case GgufValueType::UINT32:
      case GgufValueType::UINT64: {
        int64_t x = 0;
        SCN_RETURN_IF_ERROR(read_int(t, where, &x));
        out->v = static_cast<uint64_t>(x);
        return Status::ok();
      }
      default: {
        int64_t x = 0;
        SCN_RETURN_IF_ERROR(read_int(t, where, &x));
        out->v = x;
        return Status::ok();
      }
    }
  }

  // Integers (and bool) widened to int64; UINT64 keeps its bit pattern.
  Status read_int(GgufValueType t, const std::string& where, int64_t* out) {
    switch (t) {
      case GgufValueType::UINT8: { uint8_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::INT8: { int8_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::UINT16: { uint16_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::INT16: { int16_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::UINT32: { uint32_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::INT32: { int32_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::UINT64: { uint64_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = static_cast<int64_t>(x); break; }
      case GgufValueType::INT64: { int64_t x = 0; SCN_RETURN_IF_ERROR(c_.read(&x, where)); *out = x; break; }
      case GgufValueType::BOOL: {
        uint8_t x = 0;
        size_t at = c_.pos();
        SCN_RETURN_IF_ERROR(c_.read(&x, where));
        if (x > 1)
          return Status::corrupt(where + ": bool at byte " + std::to_string(at) + " has value " +
                                 std::to_string(x) + " (must be 0 or 1)");
        *out = x;
        break;
      }
      default: return Status::internal(where + ": not an integer type");
    }
    return Status::ok();
  }

  Status read_float(GgufValueType t, const std::string& where, double* out) {
    if (t == GgufValueType::FLOAT32) {
      float x = 0;
      SCN_RETURN_IF_ERROR(c_.read(&x, where));
      *out = x;
    } else {
      SCN_RETURN_IF_ERROR(c_.read(out, where));
    }
    return Status::ok();
  }

  Status parse_array(const std::string& where, GgufArray* a) {
    uint32_t et = 0;
    uint64_t n = 0;
    SCN_RETURN_IF_ERROR(c_.read(&et, where + " array element type"));
    if (!valid_value_type(et)) return bad_type(et, where + " array element");
    a->type = static_cast<GgufValueType>(et);
    if (a->type == GgufValueType::ARRAY)
      return Status::unprocessable(where + ": nested arrays are not supported");
    size_t at = c_.pos();
    SCN_RETURN_IF_ERROR(c_.read(&n, where + " array length"));
    if (n > c_.remaining() / min_encoded_size(a->type))
      return Status::corrupt(where + ": array length " + std::to_string(n) + " at byte " +
                             std::to_string(at) + " exceeds what the " +
                             std::to_string(c_.remaining()) + " bytes left can hold");
    size_t count = static_cast<size_t>(n);
    switch (a->type) {
      case GgufValueType::STRING:
        a->strings.resize(count);
        for (size_t i = 0; i < count; ++i)
          SCN_RETURN_IF_ERROR(c_.read_string(&a->strings[i], where, static_cast<int64_t>(i)));
        break;
      case GgufValueType::FLOAT32:
      case GgufValueType::FLOAT64:
        a->floats.resize(count);
        for (size_t i = 0; i < count; ++i) SCN_RETURN_IF_ERROR(read_float(a->type, where, &a->floats[i]));
        break;
      default:
        a->ints.resize(count);
        for (size_t i = 0; i < count; ++i) SCN_RETURN_IF_ERROR(read_int(a->type, where, &a->ints[i]));
        break;
    }
    return Status::ok();
  }

  Status read_alignment() {
    auto it = f_->kv_index_.find("general.alignment");
    if (it == f_->kv_index_.end()) return Status::ok();
    const GgufValue& v = f_->kv_[it->second].second;
    auto a = v.as_u64();
    if (!a || v.type == GgufValueType::BOOL)
      return Status::corrupt("general.alignment has type " + std::string(value_type_name(v.type)) +
                             ", expected an unsigned integer");
    if (*a == 0 || (*a & (*a - 1)) != 0 || *a > (uint64_t{1} << 30))
      return Status::corrupt("general.alignment " + std::to_string(*a) +
                             " is not a power of two (up to 2^30)");
    f_->alignment_ = *a;
    return Status::ok();
  }

  Status parse_tensor_info(uint64_t index) {
    size_t at = c_.pos();
    GgufTensorInfo t;
    SCN_RETURN_IF_ERROR(c_.read_string(&t.name, "name of tensor " + std::to_string(index)));
    if (t.name.empty() || t.name.size() >= kMaxTensorName)
      return Status::corrupt("tensor " + std::to_string(index) + " at byte " + std::to_string(at) +
                             ": name length " + std::to_string(t.name.size()) +
                             " is outside 1.." + std::to_string(kMaxTensorName - 1));
    std::string where = "tensor '" + t.name + "'";
    if (f_->tensor_index_.count(t.name))
      return Status::corrupt("duplicate " + where + " at byte " + std::to_string(at));
    uint32_t n_dims = 0;
    SCN_RETURN_IF_ERROR(c_.read(&n_dims, where + " dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims)
      return Status::corrupt(where + ": dimension count " + std::to_string(n_dims) +
                             " is outside 1..4");
    for (uint32_t d = 0; d < n_dims; ++d) {
      int64_t ne = 0;
      SCN_RETURN_IF_ERROR(c_.read(&ne, where + " dimension"));
      if (ne <= 0)
        return Status::corrupt(where + ": dimension " + std::to_string(d) + " is " +
                               std::to_string(ne) + " (must be positive)");
      t.dims.push_back(ne);
    }
    uint32_t type = 0;
    SCN_RETURN_IF_ERROR(c_.read(&type, where + " type"));
    auto tt = type_traits(type);
    if (!tt) return Status::corrupt(where + ": unknown tensor type id " + std::to_string(type));
    if (!tt->supported)
      return Status::unprocessable(where + " has type " + std::string(tt->name) +
                                   ", which scn does not support");
    t.type = static_cast<GgmlType>(type);
    SCN_RETURN_IF_ERROR(c_.read(&t.offset, where + " offset"));
    if (t.dims[0] % tt->block_size != 0)
      return Status::corrupt(where + ": row length " + std::to_string(t.dims[0]) +
                             " is not a multiple of the " + std::string(tt->name) + " block size " +
                             std::to_string(tt->block_size));
    auto nbytes = tensor_nbytes(t.type, t.dims);
    if (!nbytes) return Status::corrupt(where + ": size overflows");
    t.nbytes = *nbytes;
    if (t.offset % f_->alignment_ != 0)
      return Status::corrupt(where + ": offset " + std::to_string(t.offset) +
                             " is not a multiple of the alignment " + std::to_string(f_->alignment_));
    f_->tensor_index_.emplace(t.name, f_->tensors_.size());
    f_->tensors_.push_back(std::move(t));
    return Status::ok();
  }

  // Checks every tensor's data range against the file and the others.
  Status place_tensors() {
    if (f_->tensors_.empty()) return Status::ok();
    uint64_t data_start = c_.pos();
    uint64_t a = f_->alignment_;
    data_start = (data_start + a - 1) / a * a;  // pos < size_t max / 2, alignment <= 2^30
    if (data_start > f_->size_)
      return Status::corrupt("tensor data section starts at byte " + std::to_string(data_start) +
                             ", past the end of the file (size " + std::to_string(f_->size_) + ")");
    uint64_t data_size = f_->size_ - data_start;
    std::vector<size_t> order(f_->tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (auto& t : f_->tensors_) {
      uint64_t end = 0;
      if (__builtin_add_overflow(t.offset, t.nbytes, &end) || end > data_size)
        return Status::corrupt("tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", " +
                               std::to_string(t.offset) + "+" + std::to_string(t.nbytes) +
                               ") of the data section lies past the end of the file (data section " +
                               std::to_string(data_size) + " bytes from byte " +
                               std::to_string(data_start) + ")");
      t.data = f_->base_ + data_start + t.offset;
    }
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return f_->tensors_[x].offset < f_->tensors_[y].offset;
    });
    for (size_t i = 1; i < order.size(); ++i) {
      const auto& prev = f_->tensors_[order[i - 1]];
      const auto& cur = f_->tensors_[order[i]];
      if (cur.offset < prev.offset + prev.nbytes)
        return Status::corrupt("tensor '" + cur.name + "' at data offset " + std::to_string(cur.offset) +
                               " overlaps tensor '" + prev.name + "' [" + std::to_string(prev.offset) +
                               ", " + std::to_string(prev.offset + prev.nbytes) + ")");
    }
    return Status::ok();
  }

  GgufFile* f_;
  Cursor c_;
};

Result<std::unique_ptr<GgufFile>> GgufFile::from_memory(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = data;
  f->size_ = size;
  f->path_ = "<memory>";
  GgufParser p(f.get());
  if (Status st = p.parse(); !st.is_ok()) return st;
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::io_error("cannot stat " + path + ": " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::io_error(path + " is not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return Status::corrupt(path + ": empty file, not a GGUF file");
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (m == MAP_FAILED) return Status::io_error("cannot map " + path + ": " + std::strerror(e));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = static_cast<const uint8_t*>(m);
  f->size_ = size;
  f->owns_mapping_ = true;
  f->path_ = path;
  GgufParser p(f.get());
  if (Status s = p.parse(); !s.is_ok()) return s.with_context(path);
  return f;
}

GgufFile::~GgufFile() {
  if (owns_mapping_ && base_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || !v->as_string()) return std::nullopt;
  return *v->as_string();
}

std::optional<uint64_t> GgufFile::get_u64(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_u64() : std::nullopt;
}

std::optional<int64_t> GgufFile::get_i64(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_i64() : std::nullopt;
}

std::optional<double> GgufFile::get_f64(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_f64() : std::nullopt;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}

const GgufArray* GgufFile::get_array(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_array() : nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace scn::inference
