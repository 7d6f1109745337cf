// Regex pre-tokenizers through PCRE2 (UTF + UCP).
#include "inference/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "inference/tokenizer/unicode.h"

namespace scn::inference {

namespace {

// GPT-2's split, as llama.cpp spells it (its custom matcher adds the final
// \s+ fallback implicitly; a lone whitespace that no branch takes is left
// between matches and so becomes a word of its own all the same).
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3 (tokenizer.json has "(?i:'s|...)"; llama.cpp spells the
// case-insensitive contractions out, which is what it matches).
constexpr const char* kLlama3Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: Llama 3's with single digits.
constexpr const char* kQwen2Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const std::vector<std::string>& patterns_for(PreTokenizerType type) {
  static const std::vector<std::string> kDefault = {
      R"([\p{P}\$\+<=>\^~\|]+)",
      kGpt2Regex,
      R"(\p{N}+)",
      R"([0-9][0-9][0-9])",
  };
  static const std::vector<std::string> kGpt2 = {kGpt2Regex};
  static const std::vector<std::string> kLlama3 = {kLlama3Regex};
  static const std::vector<std::string> kQwen2 = {kQwen2Regex};
  static const std::vector<std::string> kDeepseekLlm = {
      R"([\r\n])",
      R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)",
      // llama.cpp writes the last range as U+3000-U+3002 but replaces every
      // non-ASCII whitespace by U+000B before matching, so U+3000 (a space)
      // never matches it there: the range starts at U+3001 here.
      R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3001}-\x{3002}]+)",
      R"(\s+$)",
      R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
      R"(\p{N}+)",
  };
  static const std::vector<std::string> kDeepseekCoder = {
      R"([\r\n])",
      R"(\s?\p{L}+)",
      R"(\s?\p{P}+)",
      R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
      R"(\p{N})",
  };
  static const std::vector<std::string> kDeepseek3 = {
      R"(\p{N}{1,3})",
      R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
      R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
  };
  static const std::vector<std::string> kStarcoder = {R"(\p{N})", kGpt2Regex};
  switch (type) {
    case PreTokenizerType::kDefault: return kDefault;
    case PreTokenizerType::kGpt2: return kGpt2;
    case PreTokenizerType::kLlama3: return kLlama3;
    case PreTokenizerType::kQwen2: return kQwen2;
    case PreTokenizerType::kDeepseekLlm: return kDeepseekLlm;
    case PreTokenizerType::kDeepseekCoder: return kDeepseekCoder;
    case PreTokenizerType::kDeepseek3: return kDeepseek3;
    case PreTokenizerType::kStarcoder: return kStarcoder;
  }
  return kDefault;
}

// \s and \S -> the White_Space property (PCRE2's UCP \s also takes U+180E).
std::string rewrite_whitespace(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 's') {
        out += "\\p{White_Space}";
      } else if (n == 'S') {
        out += "\\P{White_Space}";
      } else {
        out += p[i];
        out += n;
      }
      ++i;
      continue;
    }
    out += p[i];
  }
  return out;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() {
    if (code) pcre2_code_free(code);
  }
};

std::optional<PreTokenizerType> pre_tokenizer_from_name(std::string_view name) {
  using T = PreTokenizerType;
  static const std::pair<std::string_view, T> kNames[] = {
      {"", T::kDefault},           {"default", T::kDefault},
      {"gpt-2", T::kGpt2},         {"gpt2", T::kGpt2},
      {"phi-2", T::kGpt2},         {"jina-es", T::kGpt2},
      {"jina-de", T::kGpt2},       {"jina-v2-es", T::kGpt2},
      {"jina-v2-de", T::kGpt2},    {"gigachat", T::kGpt2},
      {"mpt", T::kGpt2},           {"olmo", T::kGpt2},
      {"exaone4", T::kGpt2},       {"llama3", T::kLlama3},
      {"llama-v3", T::kLlama3},    {"llama-bpe", T::kLlama3},
      {"falcon3", T::kLlama3},     {"falcon-h1", T::kLlama3},
      {"pixtral", T::kLlama3},     {"dbrx", T::kLlama3},
      {"smaug-bpe", T::kLlama3},   {"qwen2", T::kQwen2},
      {"deepseek-r1-qwen", T::kQwen2}, {"megrez", T::kQwen2},
      {"stablelm2", T::kQwen2},    {"hunyuan", T::kQwen2},
      {"deepseek-llm", T::kDeepseekLlm}, {"deepseek-coder", T::kDeepseekCoder},
      {"deepseek-v3", T::kDeepseek3}, {"starcoder", T::kStarcoder},
      {"refact", T::kStarcoder},   {"command-r", T::kStarcoder},
      {"smollm", T::kStarcoder},   {"codeshell", T::kStarcoder},
      {"exaone", T::kStarcoder},   {"minerva-7b", T::kStarcoder},
  };
  for (const auto& [n, t] : kNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string_view pre_tokenizer_name(PreTokenizerType type) {
  switch (type) {
    case PreTokenizerType::kDefault: return "default";
    case PreTokenizerType::kGpt2: return "gpt-2";
    case PreTokenizerType::kLlama3: return "llama-bpe";
    case PreTokenizerType::kQwen2: return "qwen2";
    case PreTokenizerType::kDeepseekLlm: return "deepseek-llm";
    case PreTokenizerType::kDeepseekCoder: return "deepseek-coder";
    case PreTokenizerType::kDeepseek3: return "deepseek-v3";
    case PreTokenizerType::kStarcoder: return "starcoder";
  }
  return "default";
}

const std::vector<std::string>& pre_tokenizer_patterns(PreTokenizerType type) {
  return patterns_for(type);
}

PreTokenizer::~PreTokenizer() = default;

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(PreTokenizerType type) {
  return from_patterns(patterns_for(type));
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::from_patterns(
    const std::vector<std::string>& patterns) {
  std::unique_ptr<PreTokenizer> pt(new PreTokenizer());
  for (const auto& pattern : patterns) {
    const std::string p = rewrite_whitespace(pattern);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_off,
                                     nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Status::internal("pre-tokenizer regex '" + pattern + "' does not compile at offset " +
                              std::to_string(err_off) + ": " + reinterpret_cast<const char*>(msg));
    }
    auto re = std::make_unique<Regex>();
    re->code = code;
    // JIT is an optimization only: the interpreter matches the same way.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    pt->regexes_.push_back(std::move(re));
  }
  return pt;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  struct Frag {
    size_t off, len;
  };
  std::vector<Frag> frags;
  if (!text.empty()) frags.push_back({0, text.size()});
  std::vector<Frag> next;
  for (const auto& re : regexes_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
    if (!md) break;  // out of memory: keep the fragments as they are
    next.clear();
    next.reserve(frags.size() * 2);
    for (const Frag& f : frags) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + f.off);
      size_t start = 0;     // where the next search begins
      size_t last_end = 0;  // end of the last match (text after it is a gap)
      while (start < f.len) {
        const int rc = pcre2_match(re->code, subject, f.len, start, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;  // no match (or a matching error): the rest is a gap
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t ms = ov[0], me = ov[1];
        if (me <= ms) {  // an empty match consumes nothing: step one character
          start = ms + utf8_sequence_length(static_cast<uint8_t>(text[f.off + ms]));
          continue;
        }
        if (ms > last_end) next.push_back({f.off + last_end, ms - last_end});
        next.push_back({f.off + ms, me - ms});
        last_end = start = me;
      }
      if (last_end < f.len) next.push_back({f.off + last_end, f.len - last_end});
    }
    pcre2_match_data_free(md);
    frags.swap(next);
  }
  std::vector<std::string_view> words;
  words.reserve(frags.size());
  for (const Frag& f : frags) words.push_back(text.substr(f.off, f.len));
  return words;
}

}  // namespace scn::inference
