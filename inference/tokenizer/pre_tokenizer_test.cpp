// Pre-tokenizer regex splits.
#include "inference/tokenizer/pre_tokenizer.h"

#include <doctest/doctest.h>

#include <iterator>
#include <random>

namespace scn::inference {
namespace {

std::vector<std::string> split(PreTokenizerType type, std::string_view text) {
  auto pt = PreTokenizer::create(type);
  REQUIRE_MESSAGE(pt.is_ok(), pt.status().to_string());
  std::vector<std::string> out;
  for (auto w : (*pt)->split(text)) out.emplace_back(w);
  return out;
}

using Words = std::vector<std::string>;

}  // namespace

TEST_CASE("pre_tokenizer: splits of the supported types") {
  using T = PreTokenizerType;
  struct Case {
    T type;
    const char* text;
    Words words;
  };
  const Case cases[] = {
      {T::kGpt2, "Hello world", {"Hello", " world"}},
      {T::kGpt2, "   Hello", {"  ", " Hello"}},
      {T::kGpt2, "it's 2024!!", {"it", "'s", " 2024", "!!"}},
      {T::kGpt2, "a\n\nb", {"a", "\n", "\n", "b"}},
      {T::kGpt2, "x  ", {"x", "  "}},
      {T::kLlama3, "333333333", {"333", "333", "333"}},
      {T::kLlama3, "I'M here\n\n  ok", {"I", "'M", " here", "\n\n", " ", " ok"}},
      {T::kLlama3, "(hi)", {"(hi", ")"}},
      {T::kQwen2, "333", {"3", "3", "3"}},
      {T::kQwen2, " \t\nword", {" \t\n", "word"}},
      {T::kDeepseekCoder, "ab 12\ncd", {"ab", " ", "1", "2", "\n", "cd"}},
      {T::kDeepseekLlm, "Hi 123 中文!", {"Hi", " ", "123", " ", "中文", "!"}},
      {T::kDeepseekLlm, "end  ", {"end", "  "}},
      {T::kDefault, "a, b 1234", {"a", ",", " b", " ", "123", "4"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(split(c.type, c.text) == c.words);
  }
}

TEST_CASE("pre_tokenizer: \\s is Unicode White_Space") {
  // U+3000 (ideographic space) is whitespace, U+180E (Mongolian vowel
  // separator) is not, though PCRE2's own UCP \s takes it.
  CHECK(split(PreTokenizerType::kGpt2, "a\xE3\x80\x80\xE3\x80\x80" "b") ==
        Words{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b"});
  CHECK(split(PreTokenizerType::kQwen2, "!\xE3\x80\x80") == Words{"!", "\xE3\x80\x80"});
  CHECK(split(PreTokenizerType::kQwen2, "!\xC2\x85") == Words{"!", "\xC2\x85"});
  CHECK(split(PreTokenizerType::kQwen2, "!\xE1\xA0\x8E") == Words{"!\xE1\xA0\x8E"});
}

TEST_CASE("pre_tokenizer: names, and words always concatenate to the input") {
  CHECK(pre_tokenizer_from_name("llama-bpe") == PreTokenizerType::kLlama3);
  CHECK(pre_tokenizer_from_name("deepseek-r1-qwen") == PreTokenizerType::kQwen2);
  CHECK(pre_tokenizer_from_name("") == PreTokenizerType::kDefault);
  CHECK_FALSE(pre_tokenizer_from_name("tekken").has_value());
  CHECK(pre_tokenizer_name(PreTokenizerType::kQwen2) == "qwen2");
  CHECK(PreTokenizer::from_patterns({"("}).status().code() == Code::kInternal);

  std::mt19937 rng(7);
  const char* pieces[] = {"a", "Z", " ", "  ", "\n", "\r\n", "7", "'s", "é", "中", "🦙", "!", "\t", "\xE3\x80\x80", "ÿ"};
  for (int type = 0; type <= static_cast<int>(PreTokenizerType::kStarcoder); ++type) {
    auto pt = PreTokenizer::create(static_cast<PreTokenizerType>(type));
    REQUIRE(pt.is_ok());
    for (int iter = 0; iter < 200; ++iter) {
      std::string text;
      for (int n = rng() % 20; n > 0; --n) text += pieces[rng() % std::size(pieces)];
      std::string joined;
      for (auto w : (*pt)->split(text)) {
        CHECK_FALSE(w.empty());
        joined += w;
      }
      CHECK(joined == text);
    }
  }
}

}  // namespace scn::inference
