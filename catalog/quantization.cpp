#include "catalog/quantization.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>

#include "inference/gguf/ggml_type.h"
#include "inference/gguf/gguf.h"

namespace scn::catalog {

namespace {

struct QuantInfo {
  Quant quant;
  std::string_view name;
  int64_t bpw_x10000;  // bits per weight, in units of 1/10000 bit (exact)
};

constexpr QuantInfo kQuants[] = {
    {Quant::kF32, "F32", 320000},    {Quant::kF16, "F16", 160000},
    {Quant::kBF16, "BF16", 160000},  {Quant::kQ8_0, "Q8_0", 85000},
    {Quant::kQ6_K, "Q6_K", 65625},   {Quant::kQ5_K_M, "Q5_K_M", 57000},
    {Quant::kQ4_K_M, "Q4_K_M", 48500}, {Quant::kQ4_0, "Q4_0", 45000},
};

const QuantInfo& info(Quant q) {
  for (const auto& i : kQuants)
    if (i.quant == q) return i;
  return kQuants[0];  // unreachable: every enumerator is listed
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// llama.cpp's llama_ftype values (general.file_type) for the known quants.
std::optional<Quant> quant_of_file_type(uint64_t ftype) {
  switch (ftype) {
    case 0: return Quant::kF32;
    case 1: return Quant::kF16;
    case 2: return Quant::kQ4_0;
    case 7: return Quant::kQ8_0;
    case 15: return Quant::kQ4_K_M;
    case 17: return Quant::kQ5_K_M;
    case 18: return Quant::kQ6_K;
    case 32: return Quant::kBF16;
    default: return std::nullopt;
  }
}

std::optional<Quant> quant_of_tensor_type(inference::GgmlType t) {
  using inference::GgmlType;
  switch (t) {
    case GgmlType::F32: return Quant::kF32;
    case GgmlType::F16: return Quant::kF16;
    case GgmlType::BF16: return Quant::kBF16;
    case GgmlType::Q8_0: return Quant::kQ8_0;
    case GgmlType::Q6_K: return Quant::kQ6_K;
    case GgmlType::Q5_K: return Quant::kQ5_K_M;  // the _M mix is mostly Q5_K
    case GgmlType::Q4_K: return Quant::kQ4_K_M;  // the _M mix is mostly Q4_K
    case GgmlType::Q4_0: return Quant::kQ4_0;
    default: return std::nullopt;
  }
}

}  // namespace

std::string_view quant_name(Quant q) { return info(q).name; }

std::optional<Quant> parse_quant(std::string_view name) {
  for (const auto& i : kQuants)
    if (iequals(i.name, name)) return i.quant;
  return std::nullopt;
}

const std::vector<Quant>& all_quants() {
  static const std::vector<Quant> all = [] {
    std::vector<Quant> v;
    for (const auto& i : kQuants) v.push_back(i.quant);
    return v;
  }();
  return all;
}

std::string known_quant_names() {
  std::string out;
  for (const auto& i : kQuants) {
    if (!out.empty()) out += ", ";
    out += i.name;
  }
  return out;
}

double bits_per_weight(Quant q) { return static_cast<double>(info(q).bpw_x10000) / 10000.0; }

Result<int64_t> estimate_file_bytes(int64_t parameters, Quant q) {
  if (parameters <= 0)
    return Status::invalid_argument("parameters must be positive to estimate a file size");
  const int64_t bpw = info(q).bpw_x10000;
  if (parameters > std::numeric_limits<int64_t>::max() / bpw)
    return Status::invalid_argument("parameter count too large to estimate a file size");
  const int64_t bits_x10000 = parameters * bpw;
  constexpr int64_t kDiv = 8 * 10000;
  return bits_x10000 / kDiv + (bits_x10000 % kDiv != 0 ? 1 : 0);
}

Result<Quant> quant_of_gguf(const inference::GgufFile& file) {
  if (auto ft = file.get_u64("general.file_type")) {
    if (auto q = quant_of_file_type(*ft)) return *q;
  }
  // The type that holds most bytes of the 2-D weights (norms and biases are
  // 1-D and stay F32 in every quantization).
  std::map<inference::GgmlType, uint64_t> bytes;
  for (const auto& t : file.tensors())
    if (t.dims.size() >= 2) bytes[t.type] += t.nbytes;
  if (bytes.empty())
    return Status::unprocessable("the GGUF file has no weight matrices to tell its quantization");
  auto top = std::max_element(bytes.begin(), bytes.end(),
                              [](const auto& a, const auto& b) { return a.second < b.second; });
  auto q = quant_of_tensor_type(top->first);
  if (!q)
    return Status::unprocessable("the GGUF file's weights are " +
                                 std::string(inference::type_name(top->first)) +
                                 ", which the catalog does not know (known: " +
                                 known_quant_names() + ")");
  return *q;
}

}  // namespace scn::catalog
