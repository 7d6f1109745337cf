// A model card built from a real GGUF file, and the SHA-256 of a file.
//
// Contract:
//  - sha256_file streams the file through OpenSSL's EVP SHA-256 in 1 MiB
//    reads (constant memory whatever the size) and returns 64 lower-case hex
//    digits; kIoError naming the path when it cannot be opened or read.
//  - card_from_gguf(file, path) fills a card from the GGUF metadata (raw
//    keys, so any architecture works, not only the ones the engine runs):
//      architecture   general.architecture (required)
//      n_layers       <arch>.block_count (required)
//      hidden_size    <arch>.embedding_length (required)
//      n_heads        <arch>.attention.head_count (required)
//      n_kv_heads     <arch>.attention.head_count_kv (default n_heads)
//      head_dim       <arch>.attention.key_length (default hidden / heads)
//      context_length <arch>.context_length (required)
//      vocab_size     <arch>.vocab_size, else the tokenizer's token count,
//                     else the rows of token_embd.weight
//      parameters     the element count of all tensors
//    and one ModelFile: the quantization (quant_of_gguf), the file's name,
//    its exact size on disk and sha256, and uri "file://" + absolute path
//    (weights present). The card's name is the file name without ".gguf"
//    (characters outside [A-Za-z0-9._-] become '-'), display_name
//    general.name when set, family general.basename or the architecture,
//    licence general.license or "unspecified".
//    A missing or invalid key is kUnprocessable naming the key.
#pragma once

#include <string>

#include "catalog/model_card.h"
#include "common/status.h"

namespace scn::inference {
class GgufFile;
}

namespace scn::catalog {

Result<std::string> sha256_file(const std::string& path);

Result<ModelCard> card_from_gguf(const inference::GgufFile& file, const std::string& path);

}  // namespace scn::catalog
