// Internal: SentencePiece-style merging (llama.cpp's llm_tokenizer_spm).
//
// Contract: `text` is one raw-text fragment with spaces already replaced by
// U+2581 (and the space prefix added by the caller). It is cut into UTF-8
// characters by lead byte (so invalid bytes survive as their own symbols),
// then the adjacent pair whose concatenation is the token of highest score is
// merged repeatedly (leftmost first on ties). A final symbol that is not a
// token is emitted as byte tokens (<0xXX>, or the one-byte token), each byte
// with no such token as `unk_id` (dropped when there is none).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "inference/tokenizer/token_map.h"

namespace scn::inference {

struct SpmTables {
  const TokenMap* tokens = nullptr;
  const std::vector<float>* scores = nullptr;  // by token id
  std::array<int32_t, 256> byte_tokens{};      // -1 where a byte has no token
  int32_t unk_id = -1;
};

void spm_tokenize(const SpmTables& t, std::string_view text, std::vector<int32_t>& out);

}  // namespace scn::inference
