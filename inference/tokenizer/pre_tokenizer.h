// Pre-tokenizers of byte-level BPE vocabularies: the regex splits that cut a
// text into words before BPE merging, one set per `tokenizer.ggml.pre`.
//
// Contract:
//  - The regexes are the ones llama.cpp's llama-vocab.cpp uses for each type
//    (its std::regex-compatible forms), compiled with PCRE2 in UTF + UCP mode
//    so \p{L}, \p{N}, ... are real Unicode properties. `\s`/`\S` are matched
//    as the Unicode White_Space property (what llama.cpp's tables hold).
//  - A type's regexes apply in order, each to every fragment left by the
//    previous one (a regex never sees past its fragment, so lookaheads stop at
//    fragment ends); the text between matches is kept as fragments too. The
//    concatenation of the words is always exactly the input.
//  - split() needs valid UTF-8 (Vocab sanitizes first). It never fails: if
//    PCRE2 reports a matching error the rest of that fragment stays one word.
//  - Thread-safe: a PreTokenizer is immutable once created.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scn::inference {

enum class PreTokenizerType {
  kDefault,        // "default" (and missing): llama.cpp's generic fallback set
  kGpt2,           // "gpt-2", "phi-2", "jina-es", "jina-de", ...
  kLlama3,         // "llama3", "llama-v3", "llama-bpe", "falcon3", ...
  kQwen2,          // "qwen2", "deepseek-r1-qwen", "megrez", ...
  kDeepseekLlm,    // "deepseek-llm"
  kDeepseekCoder,  // "deepseek-coder"
  kDeepseek3,      // "deepseek-v3"
  kStarcoder,      // "starcoder", "refact", "command-r", "smollm", ...
};

// The type of a `tokenizer.ggml.pre` value; nullopt for names scn does not
// support (callers answer kUnprocessable).
std::optional<PreTokenizerType> pre_tokenizer_from_name(std::string_view name);
// The canonical name ("gpt-2", "llama-bpe", "qwen2", ...).
std::string_view pre_tokenizer_name(PreTokenizerType type);
// The regexes (before the \s rewrite) a type applies, in order.
const std::vector<std::string>& pre_tokenizer_patterns(PreTokenizerType type);

class PreTokenizer {
 public:
  // Compiles the type's regexes. Fails (kInternal) only if PCRE2 rejects one.
  static Result<std::unique_ptr<PreTokenizer>> create(PreTokenizerType type);
  // Any list of PCRE2 patterns (for tests and imported tokenizers).
  static Result<std::unique_ptr<PreTokenizer>> from_patterns(const std::vector<std::string>& patterns);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits valid UTF-8 `text` into words that view into `text`.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Regex;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace scn::inference
