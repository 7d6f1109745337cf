// Vocab: a model's tokenizer, built from GGUF `tokenizer.ggml.*` metadata.
//
// Contract:
//  - from_gguf() supports tokenizer.ggml.model "llama" (SentencePiece-style,
//    with byte fallback) and "gpt2" (byte-level BPE with the pre-tokenizer of
//    tokenizer.ggml.pre, see pre_tokenizer.h); any other model or pre name is
//    kUnprocessable. Every array and id is validated first (kCorruptData with
//    the key named): tokens present, unique and of string type; scores and
//    token_type (values 0..6) as long as tokens; merges of string type;
//    byte tokens of the form <0xXX>; bos/eos/unk/eot/eom ids inside the
//    vocabulary (0xFFFFFFFF and -1 mean "none"; other ids such as pad that
//    lie outside are ignored, as llama.cpp does); add_bos/add_eos only with
//    the id set.
//  - Tokenization reproduces llama.cpp (llama-vocab.cpp): special tokens are
//    cut out of the text first (longest first; user-defined ones always,
//    control/unknown ones only with parse_special); raw text is then
//    tokenized per fragment. SPM adds a space before a fragment that starts
//    the text or follows a special token when add_space_prefix (default on).
//    BPE turns invalid UTF-8 into U+FFFD per bad byte; SPM keeps such bytes
//    as byte tokens. Nothing crashes on any input.
//  - Detokenizing concatenates token_to_piece() pieces (never "cleaning up"
//    spaces the way llama.cpp does for some BPE models, so
//    detokenize(tokenize(x)) == x for valid UTF-8 x). For SPM with
//    add_space_prefix, one leading space is removed from the first piece
//    that produces output (llama.cpp removes it from the first token's piece
//    even when that piece is empty, e.g. an unrendered BOS).
//  - Pieces are raw bytes and may be incomplete UTF-8 (byte tokens, byte-level
//    fragments of a character); consumers stitch them together.
//  - A Vocab is immutable after from_gguf(): every method is thread-safe.
//    Out-of-range ids are tolerated everywhere (empty text, false).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/pre_tokenizer.h"
#include "inference/tokenizer/token_map.h"

namespace scn::inference {

class BpeModel;

enum class VocabType { kSpm, kBpe };

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

class Vocab {
 public:
  static Result<std::unique_ptr<Vocab>> from_gguf(const GgufFile& file);
  ~Vocab();
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  // add_special: BOS / EOS as add_bos() / add_eos() say. parse_special:
  // control tokens written in the text ("<|im_start|>") become those tokens.
  std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;
  // The bytes a token stands for in output text. Control and unknown tokens
  // give "" unless render_special (then their text); user-defined tokens
  // always give their text.
  std::string token_to_piece(int32_t id, bool render_special = false) const;
  std::string detokenize(std::span<const int32_t> ids, bool render_special = false) const;

  VocabType type() const { return type_; }
  std::string_view model_name() const { return type_ == VocabType::kSpm ? "llama" : "gpt2"; }
  // The pre-tokenizer (BPE only; kDefault for SPM).
  PreTokenizerType pre_type() const { return pre_type_; }
  int32_t n_tokens() const { return static_cast<int32_t>(tokens_.size()); }
  size_t n_merges() const;

  // Special ids, -1 when the vocabulary has none.
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int32_t eot() const { return eot_; }
  int32_t unk() const { return unk_; }
  int32_t pad() const { return pad_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  // End of generation: eos, eot, eom and the texts llama.cpp treats so
  // (<|im_end|>, <|eot_id|>, <|end_of_text|>, <|endoftext|>, <|end|>, ...).
  bool is_eog(int32_t id) const;
  bool is_control(int32_t id) const;
  bool is_byte(int32_t id) const;
  bool is_user_defined(int32_t id) const;
  TokenType token_type(int32_t id) const;
  float score(int32_t id) const;
  // The token's text as stored in the vocabulary ("▁the", "Ġthe", "<0x0A>").
  const std::string& token_text(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;
  // All end-of-generation ids, ascending.
  std::vector<int32_t> eog_ids() const;

  // tokenizer.chat_template, when the file has one.
  const std::optional<std::string>& chat_template() const { return chat_template_; }

 private:
  friend class VocabLoader;
  Vocab() = default;

  struct Fragment {  // a special token (token >= 0) or text[off, off+len)
    int32_t token;
    size_t off, len;
  };
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void tokenize_raw(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const;
  std::string make_piece(int32_t id) const;

  // attribute bits (llama_token_attr)
  enum : uint32_t {
    kAttrUndefined = 0, kAttrUnknown = 1u << 0, kAttrUnused = 1u << 1, kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3, kAttrUserDefined = 1u << 4, kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 7, kAttrRstrip = 1u << 8,
  };
  struct Token {
    std::string text;
    float score = 0.0f;
    TokenType type = TokenType::kNormal;
    uint32_t attr = kAttrNormal;
  };

  VocabType type_ = VocabType::kSpm;
  PreTokenizerType pre_type_ = PreTokenizerType::kDefault;
  bool ignore_merges_ = false;
  std::vector<Token> tokens_;
  std::vector<float> scores_;
  TokenMap token_to_id_;
  std::vector<std::string> pieces_;     // token_to_piece(id, true)
  std::vector<int32_t> special_cache_;  // control / user-defined / unknown, longest first
  std::vector<uint8_t> eog_;            // by id
  std::array<int32_t, 256> byte_tokens_{};
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<PreTokenizer> pre_;
  int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, pad_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  std::optional<std::string> chat_template_;
};

}  // namespace scn::inference
