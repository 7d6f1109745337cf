// Vocab::from_gguf on malformed or unsupported tokenizer metadata: a clear
// Status every time, never a crash.
#include <doctest/doctest.h>

#include <functional>
#include <thread>

#include "inference/tokenizer/vocab.h"

namespace scn::inference {
namespace {

// A tiny valid SentencePiece vocabulary; `edit` breaks it.
GgufWriter spm_writer() {
  GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::str("llama"));
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "<0x0A>", "▁", "a", "b", "▁a", "ab"};
  w.set("tokenizer.ggml.tokens", GgufValue::array(GgufArray::of_strings(tokens)));
  w.set("tokenizer.ggml.scores",
        GgufValue::array(GgufArray::of_floats(GgufValueType::FLOAT32, {0, 0, 0, 0, -1, -2, -2, -0.5, -0.25})));
  w.set("tokenizer.ggml.token_type",
        GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, {2, 3, 3, 6, 1, 1, 1, 1, 1})));
  return w;
}

Result<std::unique_ptr<Vocab>> load(const GgufWriter& w) {
  const auto bytes = w.serialize();
  REQUIRE(bytes.is_ok());
  auto file = GgufFile::from_memory(bytes->data(), bytes->size());
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  return Vocab::from_gguf(**file);  // the Vocab keeps no pointer into the file
}

}  // namespace

TEST_CASE("vocab errors: the small SentencePiece vocabulary works") {
  auto v = load(spm_writer());
  REQUIRE_MESSAGE(v.is_ok(), v.status().to_string());
  // "▁ab": the pair of highest score merges first, so "ab" (-0.25) wins over "▁a" (-0.5).
  const auto ids = (*v)->tokenize("ab", true, false);
  CHECK(ids == std::vector<int32_t>{1, 4, 8});
  CHECK((*v)->detokenize(ids) == "ab");
  // 'c' has no token and no byte token: unk.
  CHECK((*v)->tokenize("\n", false, false) == std::vector<int32_t>{4, 3});
  CHECK((*v)->tokenize("c", false, false) == std::vector<int32_t>{4, 0});
}

TEST_CASE("vocab errors: each broken key gives a clear status") {
  struct Case {
    const char* what;
    std::function<void(GgufWriter&)> edit;
    Code code;
    const char* message_part;
  };
  const Case cases[] = {
      {"no model", [](GgufWriter& w) { w = GgufWriter(); }, Code::kCorruptData, "tokenizer.ggml.model"},
      {"bert", [](GgufWriter& w) { w.set("tokenizer.ggml.model", GgufValue::str("bert")); }, Code::kUnprocessable, "bert"},
      {"model not a string", [](GgufWriter& w) { w.set("tokenizer.ggml.model", GgufValue::u32(1)); },
       Code::kCorruptData, "not a string"},
      {"tokens not strings",
       [](GgufWriter& w) { w.set("tokenizer.ggml.tokens", GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, {1}))); },
       Code::kCorruptData, "tokenizer.ggml.tokens"},
      {"scores too short",
       [](GgufWriter& w) { w.set("tokenizer.ggml.scores", GgufValue::array(GgufArray::of_floats(GgufValueType::FLOAT32, {0}))); },
       Code::kCorruptData, "tokenizer.ggml.scores"},
      {"bad token type",
       [](GgufWriter& w) {
         w.set("tokenizer.ggml.token_type",
               GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, {2, 3, 3, 6, 1, 1, 9, 1, 1})));
       },
       Code::kCorruptData, "token_type[6]"},
      {"bad byte token",
       [](GgufWriter& w) {
         w.set("tokenizer.ggml.token_type",
               GgufValue::array(GgufArray::of_ints(GgufValueType::INT32, {2, 3, 3, 6, 6, 1, 1, 1, 1})));
       },
       Code::kCorruptData, "<0xXX>"},
      {"duplicate token",
       [](GgufWriter& w) {
         w.set("tokenizer.ggml.tokens", GgufValue::array(GgufArray::of_strings(
                                            {"<unk>", "<s>", "</s>", "<0x0A>", "▁", "a", "a", "▁a", "ab"})));
       },
       Code::kCorruptData, "duplicate"},
      {"bos out of range", [](GgufWriter& w) { w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(99)); },
       Code::kCorruptData, "bos_token_id"},
      {"eos not an integer", [](GgufWriter& w) { w.set("tokenizer.ggml.eos_token_id", GgufValue::str("2")); },
       Code::kCorruptData, "eos_token_id"},
      {"add_bos without bos",
       [](GgufWriter& w) {
         w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(0xFFFFFFFFu));
         w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
       },
       Code::kCorruptData, "add_bos_token"},
      {"bpe without merges", [](GgufWriter& w) { w.set("tokenizer.ggml.model", GgufValue::str("gpt2")); },
       Code::kCorruptData, "tokenizer.ggml.merges"},
      {"bpe merge without space",
       [](GgufWriter& w) {
         w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
         w.set("tokenizer.ggml.merges", GgufValue::array(GgufArray::of_strings({"a b", "ab"})));
       },
       Code::kCorruptData, "merges[1]"},
      {"unknown pre-tokenizer",
       [](GgufWriter& w) {
         w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
         w.set("tokenizer.ggml.pre", GgufValue::str("tekken"));
         w.set("tokenizer.ggml.merges", GgufValue::array(GgufArray::of_strings({"a b"})));
       },
       Code::kUnprocessable, "tekken"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    GgufWriter w = spm_writer();
    c.edit(w);
    const auto v = load(w);
    REQUIRE_FALSE(v.is_ok());
    CHECK(v.status().code() == c.code);
    CHECK_MESSAGE(v.status().message().find(c.message_part) != std::string::npos, v.status().to_string());
  }
  // Ids that are not used for tokenizing are ignored when out of range (as
  // llama.cpp does); "none" spelled 0xFFFFFFFF is accepted everywhere.
  GgufWriter w = spm_writer();
  w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(1000));
  w.set("tokenizer.ggml.eot_token_id", GgufValue::u32(0xFFFFFFFFu));
  const auto v = load(w);
  REQUIRE_MESSAGE(v.is_ok(), v.status().to_string());
  CHECK((*v)->pad() == -1);
  CHECK((*v)->eot() == -1);
}

TEST_CASE("vocab errors: tokenizing from many threads at once") {
  auto v = load(spm_writer());
  REQUIRE(v.is_ok());
  const Vocab& vocab = **v;
  const auto expected = vocab.tokenize("ab ab\nab", true, false);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) ok[t] += vocab.tokenize("ab ab\nab", true, false) == expected;
    });
  }
  for (auto& th : threads) th.join();
  for (int n : ok) CHECK(n == 500);
}

}  // namespace scn::inference
