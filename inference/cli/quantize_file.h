// Converting the weights of a GGUF file to another type (`scn gguf
// quantize`), and the choice of type per tensor that it shares with `scn gguf
// synth`.
//
// Contract:
//  - A target is one type (q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K,
//    f16, bf16, f32) or the mix q4_K_M. Names are case-insensitive.
//  - Only 2-D+ weights ("*.weight", not norms, not the MoE router) are
//    converted; 1-D tensors (norms, biases) and others keep their type.
//  - Single type: every weight gets it; a weight whose row length is not a
//    multiple of the block size keeps its type (and the report says so).
//  - q4_K_M follows llama.cpp (llama_tensor_get_type): output.weight, or
//    token_embd.weight when there is no output.weight (tied), -> q6_K (q8_0
//    when the row is not a multiple of 256); attn_v and ffn_down -> q6_K on
//    layers where use_more_bits(i, n) holds; other weights q4_K. Rows that
//    are not a multiple of 256 fall back as llama.cpp does: q4_K -> q5_0,
//    q5_K -> q5_1, q6_K -> q8_0; a row that fits no block keeps its type.
//  - The output carries all input metadata, general.file_type (llama_ftype)
//    and general.quantization_version = 2. Conversion uses every core.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "inference/gguf/ggml_type.h"

namespace scn::inference {

struct QuantTarget {
  std::string name;          // as printed: "q8_0", "q4_K_M"
  GgmlType type = GgmlType::Q8_0;  // the single type, or the mix's base type (q4_K)
  bool q4_k_m = false;
  uint32_t file_type = 7;    // llama_ftype written to general.file_type
};

// Parses a target name; kInvalidArgument listing the valid names otherwise.
Result<QuantTarget> parse_quant_target(std::string_view name);

// llama.cpp's use_more_bits(i_layer, n_layers).
bool use_more_bits(int i_layer, int n_layers);

// Decides the type of each tensor of one file, in file order (the q4_K_M
// mix counts attn_v / ffn_down tensors as llama.cpp does).
class TypePlanner {
 public:
  // `names` are all tensor names of the file, in order.
  TypePlanner(QuantTarget target, const std::vector<std::string>& names);
  // The new type of tensor `name` with `dims` now of type `current`; `note`
  // (optional) receives why a weight keeps its type or falls back.
  GgmlType plan(std::string_view name, std::span<const int64_t> dims, GgmlType current,
                std::string* note);

 private:
  QuantTarget target_;
  bool has_output_ = false;
  int n_attn_v_ = 0, n_ffn_down_ = 0;
  int i_attn_v_ = 0, i_ffn_down_ = 0;
};

// True for tensors that quantization converts (weights with >= 2 dims).
bool is_quantizable_weight(std::string_view name, size_t n_dims);

// Converts `nrows` rows of `n_per_row` elements from type `from` to `to`
// on `n_threads` threads (0: all cores). dst holds nrows * row_size(to, n).
Status convert_rows(GgmlType from, const uint8_t* src, GgmlType to, uint8_t* dst,
                    int64_t n_per_row, int64_t nrows, int n_threads = 0);

// Runs fn(begin, end) over [0, n) split in contiguous ranges on n_threads
// threads (0: all cores); returns the first error.
Status parallel_for(int64_t n, int n_threads, const std::function<Status(int64_t, int64_t)>& fn);

// Reads `in`, converts as above, writes `out` atomically. `report` (optional)
// receives one line per tensor ("name: f32 -> q8_0" or why it was kept) and
// the totals.
Status quantize_file(const std::string& in, const std::string& out, const std::string& type_or_mix,
                     std::string* report);

}  // namespace scn::inference
