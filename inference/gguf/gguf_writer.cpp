// GGUF v3 writer: metadata, tensor infos, then the tensor data, each tensor
// padded to the alignment (as ggml writes it, so llama.cpp reads our files).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "inference/gguf/gguf.h"

namespace scn::inference {
namespace {
constexpr uint32_t kMagic = 0x46554747;
constexpr uint32_t kVersion = 3;
constexpr size_t kMaxTensorName = 64;
}  // namespace

// Where serialized bytes go: a memory buffer or a buffered file.
namespace detail {
class GgufSink {
 public:
  explicit GgufSink(std::vector<uint8_t>* mem) : mem_(mem) {}
  explicit GgufSink(std::FILE* file) : file_(file) {}

  Status put(const void* p, size_t n) {
    if (mem_) {
      const auto* b = static_cast<const uint8_t*>(p);
      mem_->insert(mem_->end(), b, b + n);
    } else if (n > 0 && std::fwrite(p, 1, n, file_) != n) {
      return Status::io_error(std::string("write failed: ") + std::strerror(errno));
    }
    written_ += n;
    return Status::ok();
  }
  template <typename T>
  Status pod(T x) { return put(&x, sizeof x); }
  Status str(const std::string& s) {
    SCN_RETURN_IF_ERROR(pod<uint64_t>(s.size()));
    return put(s.data(), s.size());
  }
  Status pad(uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    uint64_t rem = written_ % alignment;
    uint64_t n = rem == 0 ? 0 : alignment - rem;
    while (n > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof zeros));
      SCN_RETURN_IF_ERROR(put(zeros, k));
      n -= k;
    }
    return Status::ok();
  }
  uint64_t written() const { return written_; }

 private:
  std::vector<uint8_t>* mem_ = nullptr;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
};
}  // namespace detail

namespace {

using Sink = detail::GgufSink;

Status put_int(Sink& s, GgufValueType t, int64_t x) {
  switch (t) {
    case GgufValueType::UINT8: return s.pod(static_cast<uint8_t>(x));
    case GgufValueType::INT8: return s.pod(static_cast<int8_t>(x));
    case GgufValueType::UINT16: return s.pod(static_cast<uint16_t>(x));
    case GgufValueType::INT16: return s.pod(static_cast<int16_t>(x));
    case GgufValueType::UINT32: return s.pod(static_cast<uint32_t>(x));
    case GgufValueType::INT32: return s.pod(static_cast<int32_t>(x));
    case GgufValueType::UINT64: return s.pod(static_cast<uint64_t>(x));
    case GgufValueType::INT64: return s.pod(x);
    case GgufValueType::BOOL: return s.pod(static_cast<uint8_t>(x != 0));
    default: return Status::invalid_argument("not an integer type");
  }
}

Status put_float(Sink& s, GgufValueType t, double x) {
  if (t == GgufValueType::FLOAT32) return s.pod(static_cast<float>(x));
  return s.pod(x);
}

bool is_int_type(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
    case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::BOOL:
      return true;
    default: return false;
  }
}

Status put_value(Sink& s, const std::string& key, const GgufValue& v) {
  auto mismatch = [&] {
    return Status::invalid_argument("metadata '" + key + "': value does not hold a " +
                                    std::string(value_type_name(v.type)));
  };
  SCN_RETURN_IF_ERROR(s.pod(static_cast<uint32_t>(v.type)));
  switch (v.type) {
    case GgufValueType::STRING:
      if (!v.as_string()) return mismatch();
      return s.str(*v.as_string());
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: {
      const double* d = std::get_if<double>(&v.v);
      if (!d) return mismatch();
      return put_float(s, v.type, *d);
    }
    case GgufValueType::BOOL: {
      const bool* b = std::get_if<bool>(&v.v);
      if (!b) return mismatch();
      return s.pod(static_cast<uint8_t>(*b));
    }
    case GgufValueType::ARRAY: {
      const GgufArray* a = v.as_array();
      if (!a) return mismatch();
      if (a->type == GgufValueType::ARRAY)
        return Status::invalid_argument("metadata '" + key + "': nested arrays are not supported");
      SCN_RETURN_IF_ERROR(s.pod(static_cast<uint32_t>(a->type)));
      SCN_RETURN_IF_ERROR(s.pod<uint64_t>(a->size()));
      if (a->type == GgufValueType::STRING) {
        for (const auto& x : a->strings) SCN_RETURN_IF_ERROR(s.str(x));
      } else if (a->type == GgufValueType::FLOAT32 || a->type == GgufValueType::FLOAT64) {
        for (double x : a->floats) SCN_RETURN_IF_ERROR(put_float(s, a->type, x));
      } else if (is_int_type(a->type)) {
        for (int64_t x : a->ints) SCN_RETURN_IF_ERROR(put_int(s, a->type, x));
      } else {
        return Status::invalid_argument("metadata '" + key + "': bad array element type");
      }
      return Status::ok();
    }
    default: {
      if (!is_int_type(v.type)) return mismatch();
      int64_t x = 0;
      if (const auto* u = std::get_if<uint64_t>(&v.v)) x = static_cast<int64_t>(*u);
      else if (const auto* i = std::get_if<int64_t>(&v.v)) x = *i;
      else return mismatch();
      return put_int(s, v.type, x);
    }
  }
}

}  // namespace

void GgufWriter::set(std::string key, GgufValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

const GgufValue* GgufWriter::find(std::string_view key) const {
  for (const auto& kv : kv_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

Status GgufWriter::check_tensor(const std::string& name, GgmlType type,
                                const std::vector<int64_t>& dims, uint64_t* nbytes) const {
  if (name.empty() || name.size() >= kMaxTensorName)
    return Status::invalid_argument("tensor name '" + name + "' must have 1..63 bytes");
  for (const auto& t : tensors_)
    if (t.name == name) return Status::invalid_argument("duplicate tensor '" + name + "'");
  auto tt = type_traits(static_cast<uint32_t>(type));
  if (!tt) return Status::invalid_argument("tensor '" + name + "': unknown type id");
  auto n = tensor_nbytes(type, dims);
  if (!n)
    return Status::invalid_argument("tensor '" + name + "': bad dims for type " +
                                    std::string(tt->name) +
                                    " (1..4 positive dims, row a multiple of the block size)");
  *nbytes = *n;
  return Status::ok();
}

Status GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> dims,
                              std::span<const uint8_t> data) {
  uint64_t nbytes = 0;
  SCN_RETURN_IF_ERROR(check_tensor(name, type, dims, &nbytes));
  if (data.size() != nbytes)
    return Status::invalid_argument("tensor '" + name + "': " + std::to_string(data.size()) +
                                    " bytes of data, expected " + std::to_string(nbytes));
  Pending p{std::move(name), type, std::move(dims), nbytes, {data.begin(), data.end()}, {}};
  tensors_.push_back(std::move(p));
  return Status::ok();
}

Status GgufWriter::add_tensor_lazy(std::string name, GgmlType type, std::vector<int64_t> dims,
                                   TensorFiller fill) {
  uint64_t nbytes = 0;
  SCN_RETURN_IF_ERROR(check_tensor(name, type, dims, &nbytes));
  if (!fill) return Status::invalid_argument("tensor '" + name + "': no filler");
  Pending p{std::move(name), type, std::move(dims), nbytes, {}, std::move(fill)};
  tensors_.push_back(std::move(p));
  return Status::ok();
}

Status GgufWriter::emit(Sink& s) const {
  uint64_t a = alignment_;
  if (a == 0 || (a & (a - 1)) != 0 || a > (uint64_t{1} << 30))
    return Status::invalid_argument("alignment " + std::to_string(a) + " is not a power of two");
  // The alignment key, when present or needed, always states the real one.
  bool have_align = find("general.alignment") != nullptr;
  bool add_align = !have_align && a != 32;
  SCN_RETURN_IF_ERROR(s.pod(kMagic));
  SCN_RETURN_IF_ERROR(s.pod(kVersion));
  SCN_RETURN_IF_ERROR(s.pod<uint64_t>(tensors_.size()));
  SCN_RETURN_IF_ERROR(s.pod<uint64_t>(kv_.size() + (add_align ? 1 : 0)));
  for (const auto& [key, value] : kv_) {
    SCN_RETURN_IF_ERROR(s.str(key));
    if (key == "general.alignment")
      SCN_RETURN_IF_ERROR(put_value(s, key, GgufValue::u32(static_cast<uint32_t>(a))));
    else
      SCN_RETURN_IF_ERROR(put_value(s, key, value));
  }
  if (add_align) {
    SCN_RETURN_IF_ERROR(s.str("general.alignment"));
    SCN_RETURN_IF_ERROR(put_value(s, "general.alignment", GgufValue::u32(static_cast<uint32_t>(a))));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    SCN_RETURN_IF_ERROR(s.str(t.name));
    SCN_RETURN_IF_ERROR(s.pod<uint32_t>(static_cast<uint32_t>(t.dims.size())));
    for (int64_t d : t.dims) SCN_RETURN_IF_ERROR(s.pod<int64_t>(d));
    SCN_RETURN_IF_ERROR(s.pod<uint32_t>(static_cast<uint32_t>(t.type)));
    SCN_RETURN_IF_ERROR(s.pod<uint64_t>(offset));
    offset += (t.nbytes + a - 1) / a * a;
  }
  SCN_RETURN_IF_ERROR(s.pad(a));
  std::vector<uint8_t> buf;
  for (const auto& t : tensors_) {
    if (t.fill) {
      buf.assign(static_cast<size_t>(t.nbytes), 0);
      Status st = t.fill(std::span<uint8_t>(buf));
      if (!st.is_ok()) return st.with_context("tensor '" + t.name + "'");
      SCN_RETURN_IF_ERROR(s.put(buf.data(), buf.size()));
    } else {
      SCN_RETURN_IF_ERROR(s.put(t.data.data(), t.data.size()));
    }
    SCN_RETURN_IF_ERROR(s.pad(a));
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> GgufWriter::serialize() const {
  std::vector<uint8_t> out;
  Sink s(&out);
  SCN_RETURN_IF_ERROR(emit(s));
  return out;
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  auto r = serialize();
  return r.is_ok() ? std::move(r).value() : std::vector<uint8_t>{};
}

Status GgufWriter::write(const std::string& path) const {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  Sink s(f);
  Status st = emit(s);
  if (st.is_ok() && std::fflush(f) != 0)
    st = Status::io_error("cannot write " + tmp + ": " + std::strerror(errno));
  if (std::fclose(f) != 0 && st.is_ok())
    st = Status::io_error("cannot close " + tmp + ": " + std::strerror(errno));
  if (st.is_ok()) {
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) st = Status::io_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
  if (!st.is_ok()) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
  }
  return st;
}

}  // namespace scn::inference
