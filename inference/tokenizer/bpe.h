// Internal: the merge step of byte-level BPE (llama.cpp's llm_tokenizer_bpe
// session), over interned symbols so a merge lookup is one hash probe.
//
// Contract:
//  - Built from the vocabulary's text -> id map and the merges in rank order
//    ("left right", split at the first space after the first byte, as
//    llama.cpp does). Every string in a merge gets a symbol id: its token id
//    when it is a token, else an id past the vocabulary.
//  - encode_word() splits one pre-tokenized, byte-level-encoded word into
//    UTF-8 characters and repeatedly merges the adjacent pair of lowest rank
//    (leftmost first on ties). Symbols that end up not being tokens are
//    emitted character by character (a character that is no token either
//    becomes `unk`, or is dropped when there is none).
//  - Immutable after build(); encode_word() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "inference/tokenizer/token_map.h"

namespace scn::inference {

class BpeModel {
 public:
  // `tokens` must outlive the model. Errors: kCorruptData for a merge with no
  // separating space.
  static Result<std::unique_ptr<BpeModel>> build(const TokenMap& tokens, int32_t n_tokens,
                                                 const std::vector<std::string>& merges,
                                                 int32_t unk_id);

  // Appends the tokens of `word`. With `ignore_merges`, a word that is a
  // token as a whole is emitted as that token (Llama 3's rule).
  void encode_word(std::string_view word, bool ignore_merges, std::vector<int32_t>& out) const;

  size_t n_merges() const { return merges_.size(); }
  // The rank of merging `left` and `right`, or -1.
  int32_t rank(std::string_view left, std::string_view right) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // symbol id of left+right
  };
  BpeModel(const TokenMap& tokens, int32_t n_tokens, int32_t unk_id)
      : tokens_(tokens), n_tokens_(n_tokens), unk_id_(unk_id) {}
  int32_t symbol_id(std::string_view text) const;  // -1 when unknown
  int32_t intern(std::string_view text);
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void emit(std::string_view text, int32_t id, std::vector<int32_t>& out) const;

  const TokenMap& tokens_;
  int32_t n_tokens_;
  int32_t unk_id_;
  TokenMap extra_symbols_;  // merge strings that are not tokens -> n_tokens_ + k
  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace scn::inference
