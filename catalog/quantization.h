// Quantizations of a model file as the catalog knows them, with the average
// bits per weight used to size a file whose exact size is unknown.
//
// Contract:
//  - The catalog accepts exactly the quantizations listed in Quant; anything
//    else is an error naming the known ones (parse_quant returns nullopt).
//  - Names are the llama.cpp file-type spellings ("Q4_K_M", "Q8_0", "F16");
//    parse_quant is case-insensitive, quant_name gives the canonical form.
//  - bits_per_weight is the average over a whole file of that type as
//    llama.cpp writes it: Q8_0 8.5, Q6_K 6.5625, Q5_K_M ~5.7, Q4_K_M ~4.85,
//    Q4_0 4.5, F16/BF16 16, F32 32.
//  - estimate_file_bytes(parameters, q) = ceil(parameters * bpw / 8), exact
//    integer arithmetic; kInvalidArgument (never overflow) when parameters is
//    not positive or the product does not fit in int64.
//  - quant_of_gguf names the quantization of a real GGUF file: from
//    general.file_type when present and known, else from the type holding
//    most of the bytes of its 2-D weight tensors; kUnprocessable when that
//    type is not one the catalog knows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scn::inference {
class GgufFile;
}

namespace scn::catalog {

enum class Quant { kF32, kF16, kBF16, kQ8_0, kQ6_K, kQ5_K_M, kQ4_K_M, kQ4_0 };

// "Q4_K_M", "F16", ...
std::string_view quant_name(Quant q);
// Case-insensitive; nullopt when unknown.
std::optional<Quant> parse_quant(std::string_view name);
// Every known quantization, in declaration order.
const std::vector<Quant>& all_quants();
// "F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0" (for error messages).
std::string known_quant_names();

// Average bits per weight (see above).
double bits_per_weight(Quant q);

// ceil(parameters * bits_per_weight(q) / 8).
Result<int64_t> estimate_file_bytes(int64_t parameters, Quant q);

// The quantization of a GGUF file (see above).
Result<Quant> quant_of_gguf(const inference::GgufFile& file);

}  // namespace scn::catalog
