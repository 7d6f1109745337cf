// Type conversion of GGUF weights (see quantize_file.h).
#include "inference/cli/quantize_file.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "inference/backend/cpu/quants.h"
#include "inference/gguf/gguf.h"

namespace scn::inference {
namespace {

struct TargetEntry {
  const char* name;
  GgmlType type;
  bool mix;
  uint32_t file_type;  // llama_ftype
};

constexpr TargetEntry kTargets[] = {
    {"f32", GgmlType::F32, false, 0},    {"f16", GgmlType::F16, false, 1},
    {"bf16", GgmlType::BF16, false, 32}, {"q4_0", GgmlType::Q4_0, false, 2},
    {"q4_1", GgmlType::Q4_1, false, 3},  {"q5_0", GgmlType::Q5_0, false, 8},
    {"q5_1", GgmlType::Q5_1, false, 9},  {"q8_0", GgmlType::Q8_0, false, 7},
    {"q4_K", GgmlType::Q4_K, false, 14}, {"q5_K", GgmlType::Q5_K, false, 16},
    {"q6_K", GgmlType::Q6_K, false, 18}, {"q4_K_M", GgmlType::Q4_K, true, 15},
};

std::string lower(std::string_view s) {
  std::string r;
  for (char c : s) r += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

Result<QuantTarget> parse_quant_target(std::string_view name) {
  std::string want = lower(name);
  std::string valid;
  for (const auto& e : kTargets) {
    if (lower(e.name) == want) return QuantTarget{e.name, e.type, e.mix, e.file_type};
    valid += valid.empty() ? "" : ", ";
    valid += e.name;
  }
  return Status::invalid_argument("unknown quantization type '" + std::string(name) +
                                  "' (valid: " + valid + ")");
}

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

bool is_quantizable_weight(std::string_view name, size_t n_dims) {
  if (n_dims < 2) return false;
  if (name.size() < 6 || name.substr(name.size() - 6) != "weight") return false;
  if (contains(name, "_norm.weight") || contains(name, "ffn_gate_inp.weight")) return false;
  return true;
}

TypePlanner::TypePlanner(QuantTarget target, const std::vector<std::string>& names)
    : target_(std::move(target)) {
  for (const auto& n : names) {
    if (n == "output.weight") has_output_ = true;
    if (contains(n, "attn_v.weight")) ++n_attn_v_;
    if (contains(n, "ffn_down")) ++n_ffn_down_;
  }
}

GgmlType TypePlanner::plan(std::string_view name, std::span<const int64_t> dims, GgmlType current,
                           std::string* note) {
  if (!is_quantizable_weight(name, dims.size())) return current;
  const int64_t nx = dims[0];
  GgmlType t = target_.type;
  if (target_.q4_k_m) {
    const bool is_output = name == "output.weight" || (!has_output_ && name == "token_embd.weight");
    if (is_output) {
      t = nx % kQK_K != 0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
    } else if (contains(name, "attn_v.weight")) {
      if (use_more_bits(i_attn_v_, n_attn_v_)) t = GgmlType::Q6_K;
      ++i_attn_v_;
    } else if (contains(name, "ffn_down")) {
      if (use_more_bits(i_ffn_down_, n_ffn_down_)) t = GgmlType::Q6_K;
      ++i_ffn_down_;
    }
    if (nx % kQK_K != 0) {  // llama.cpp's fallback for rows that are not super-blocks
      GgmlType fb = t == GgmlType::Q4_K ? GgmlType::Q5_0
                  : t == GgmlType::Q5_K ? GgmlType::Q5_1
                  : t == GgmlType::Q6_K ? GgmlType::Q8_0 : t;
      if (fb != t && note)
        *note = "row length " + std::to_string(nx) + " is not a multiple of 256: " +
                std::string(type_name(t)) + " -> " + std::string(type_name(fb));
      t = fb;
    }
  }
  if (nx % block_size(t) != 0) {
    if (note)
      *note = "kept " + std::string(type_name(current)) + ": row length " + std::to_string(nx) +
              " is not a multiple of the " + std::string(type_name(t)) + " block size " +
              std::to_string(block_size(t));
    return current;
  }
  return t;
}

Status parallel_for(int64_t n, int n_threads, const std::function<Status(int64_t, int64_t)>& fn) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads = static_cast<int>(std::min<int64_t>(n_threads, std::max<int64_t>(n, 1)));
  if (n_threads == 1) return fn(0, n);
  std::mutex mu;
  Status first;
  std::vector<std::thread> threads;
  const int64_t per = (n + n_threads - 1) / n_threads;
  for (int t = 0; t < n_threads; ++t) {
    int64_t b = std::min(n, per * t), e = std::min(n, b + per);
    threads.emplace_back([&, b, e] {
      Status st = fn(b, e);
      if (!st.is_ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.is_ok()) first = st;
      }
    });
  }
  for (auto& th : threads) th.join();
  return first;
}

Status convert_rows(GgmlType from, const uint8_t* src, GgmlType to, uint8_t* dst, int64_t n_per_row,
                    int64_t nrows, int n_threads) {
  const size_t in_row = row_size(from, n_per_row), out_row = row_size(to, n_per_row);
  if (from == to) {
    std::memcpy(dst, src, in_row * static_cast<size_t>(nrows));
    return Status::ok();
  }
  return parallel_for(nrows, n_threads, [&](int64_t b, int64_t e) -> Status {
    std::vector<float> buf(from == GgmlType::F32 ? 0 : static_cast<size_t>(n_per_row));
    for (int64_t r = b; r < e; ++r) {
      const uint8_t* s = src + in_row * static_cast<size_t>(r);
      const float* x = reinterpret_cast<const float*>(s);
      if (from != GgmlType::F32) {
        SCN_RETURN_IF_ERROR(dequantize_row(from, s, buf.data(), n_per_row));
        x = buf.data();
      }
      SCN_RETURN_IF_ERROR(quantize_row(to, x, dst + out_row * static_cast<size_t>(r), n_per_row));
    }
    return Status::ok();
  });
}

Status quantize_file(const std::string& in, const std::string& out, const std::string& type_or_mix,
                     std::string* report) {
  SCN_ASSIGN_OR_RETURN(QuantTarget target, parse_quant_target(type_or_mix));
  SCN_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::open(in));
  const GgufFile& f = *file;

  GgufWriter w(f.alignment());
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  w.set("general.file_type", GgufValue::u32(target.file_type));
  w.set("general.quantization_version", GgufValue::u32(2));

  std::vector<std::string> names;
  for (const auto& t : f.tensors()) names.push_back(t.name);
  TypePlanner planner(target, names);
  std::string lines;
  uint64_t in_bytes = 0, out_bytes = 0;
  int converted = 0, kept = 0;
  for (const auto& t : f.tensors()) {
    std::string note;
    GgmlType to = planner.plan(t.name, t.dims, t.type, &note);
    // A converted tensor must be readable by our reference code.
    if (to != t.type && !can_quantize(t.type, t.dims[0]))
      return Status::unprocessable("tensor '" + t.name + "' of type " + std::string(type_name(t.type)) +
                                   " cannot be converted");
    const int64_t n = t.dims[0], nrows = t.n_elements() / n;
    const GgmlType from = t.type;
    const uint8_t* src = t.data;
    SCN_RETURN_IF_ERROR(w.add_tensor_lazy(t.name, to, t.dims, [=](std::span<uint8_t> dst) {
      return convert_rows(from, src, to, dst.data(), n, nrows);
    }));
    in_bytes += t.nbytes;
    out_bytes += row_size(to, n) * static_cast<uint64_t>(nrows);
    lines += t.name + ": " + std::string(type_name(t.type));
    if (to != t.type) {
      ++converted;
      lines += " -> " + std::string(type_name(to));
    } else {
      ++kept;
    }
    if (!note.empty()) lines += " (" + note + ")";
    lines += "\n";
  }
  SCN_RETURN_IF_ERROR(w.write(out));
  if (report)
    *report = lines + std::to_string(converted) + " tensors converted, " + std::to_string(kept) +
              " kept; tensor data " + mib(in_bytes) + " -> " + mib(out_bytes) + " (" + target.name + ")\n";
  return Status::ok();
}

}  // namespace scn::inference
