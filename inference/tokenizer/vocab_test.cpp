// Vocab against llama.cpp's tokenizer test vectors and the stories260K vocabulary.
#include "inference/tokenizer/vocab.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <random>

#include "inference/tokenizer/vocab_test_cases.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

std::unique_ptr<Vocab> load_vocab(const std::string& rel) {
  auto file = GgufFile::open(scn::testing::shared_path(rel));
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  auto vocab = Vocab::from_gguf(**file);
  REQUIRE_MESSAGE(vocab.is_ok(), vocab.status().to_string());
  return std::move(vocab).value();
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

// Every case of ggml-vocab-<name>.gguf.inp/.out, and the round trip.
void check_vocab_cases(const Vocab& vocab, const std::string& name) {
  const std::string base = scn::testing::shared_path("vocab/ggml-vocab-" + name + ".gguf");
  const auto cases = testing::read_vocab_cases(base + ".inp", base + ".out");
  REQUIRE(cases.size() >= 40);  // 46 texts, a few of them repeated
  int failures = 0;
  for (const auto& [text, expected] : cases) {
    const auto got = vocab.tokenize(text, /*add_special=*/false, /*parse_special=*/false);
    if (got != expected) ++failures;
    CHECK_MESSAGE(got == expected, name, ": '", text, "'\n  expected ", show(expected), "\n  got      ", show(got));
    CHECK_MESSAGE(vocab.detokenize(got) == text, name, ": round trip of '", text, "' gave '",
                  vocab.detokenize(got), "'");
  }
  CHECK(failures == 0);
}

}  // namespace

TEST_CASE("vocab: llama.cpp test vectors of every vocabulary in ../shared/vocab") {
  for (const std::string name : {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder"}) {
    SUBCASE(name.c_str()) {
      const auto vocab = load_vocab("vocab/ggml-vocab-" + name + ".gguf");
      check_vocab_cases(*vocab, name);
    }
  }
}

TEST_CASE("vocab: metadata of the test vocabularies") {
  const auto spm = load_vocab("vocab/ggml-vocab-llama-spm.gguf");
  CHECK(spm->type() == VocabType::kSpm);
  CHECK(spm->n_tokens() == 32000);
  CHECK(spm->bos() == 1);
  CHECK(spm->eos() == 2);
  CHECK(spm->unk() == 0);
  CHECK(spm->add_bos());
  CHECK_FALSE(spm->add_eos());
  CHECK(spm->add_space_prefix());
  CHECK(spm->is_eog(2));
  CHECK_FALSE(spm->is_eog(1));
  CHECK(spm->is_control(1));
  CHECK(spm->is_byte(3 + 0x0A));
  CHECK(spm->token_to_piece(3 + 0x0A) == "\n");
  CHECK(spm->token_to_piece(1).empty());
  CHECK(spm->token_to_piece(1, true) == "<s>");
  CHECK(spm->find_token("<0x0A>") == 13);
  CHECK_FALSE(spm->find_token("no such token").has_value());
  CHECK(spm->token_text(-5).empty());
  CHECK(spm->token_text(1 << 20).empty());
  CHECK(spm->token_to_piece(1 << 20).empty());

  const auto gpt2 = load_vocab("vocab/ggml-vocab-gpt-2.gguf");
  CHECK(gpt2->type() == VocabType::kBpe);
  CHECK(gpt2->pre_type() == PreTokenizerType::kGpt2);
  CHECK(gpt2->n_merges() == 50000);
  CHECK(gpt2->eos() == 50256);
  CHECK(gpt2->is_eog(50256));
  CHECK_FALSE(gpt2->add_bos());
  CHECK(gpt2->token_text(gpt2->tokenize(" the", false, false).at(0)) == "Ġthe");

  const auto phi3 = load_vocab("vocab/ggml-vocab-phi-3.gguf");
  const int32_t end = phi3->find_token("<|end|>").value();
  CHECK(phi3->is_eog(end));
  CHECK(phi3->eos() == 32000);
  CHECK(phi3->is_eog(32000));
  CHECK(phi3->chat_template().has_value());
  // <|user|> is a control token: cut out only with parse_special, and Phi-3
  // drops the whitespace after it (llama.cpp's rstrip for that family).
  const int32_t user = phi3->find_token("<|user|>").value();
  const auto with = phi3->tokenize("<|user|>\nHi<|end|>", false, true);
  REQUIRE(with.size() >= 3);
  CHECK(with.front() == user);
  CHECK(with.back() == end);
  CHECK(phi3->detokenize(with) == "Hi");  // control tokens are not rendered
  CHECK(phi3->detokenize(with, true) == "<|user|> Hi<|end|>");
  const auto without = phi3->tokenize("<|user|>", false, false);
  CHECK(std::find(without.begin(), without.end(), user) == without.end());
  CHECK(phi3->detokenize(without) == "<|user|>");

  const auto coder = load_vocab("vocab/ggml-vocab-deepseek-coder.gguf");
  CHECK(coder->bos() == 32013);
  CHECK(coder->add_bos());
  CHECK(coder->is_eog(32014));
  // User-defined tokens are matched even without parse_special (as llama.cpp).
  const int32_t eot_text = coder->find_token("<|EOT|>").value();
  CHECK(coder->is_user_defined(eot_text));
  const auto ids = coder->tokenize("a<|EOT|>b", true, false);
  CHECK(ids == std::vector<int32_t>{32013, coder->tokenize("a", false, false)[0], eot_text,
                                    coder->tokenize("b", false, false)[0]});
  CHECK(coder->detokenize(ids) == "a<|EOT|>b");
  CHECK(coder->detokenize(ids, true) == "<｜begin▁of▁sentence｜>a<|EOT|>b");
}

TEST_CASE("vocab: stories260K prompts and golden greedy texts") {
  const auto vocab = load_vocab("models/stories260K.gguf");
  CHECK(vocab->n_tokens() == 512);
  CHECK(vocab->pad() == -1);  // stored as 0xFFFFFFFF: none
  CHECK_FALSE(vocab->chat_template().has_value());
  CHECK(vocab->tokenize("Once upon a time", true, false) == std::vector<int32_t>{1, 403, 407, 261, 378});
  CHECK(vocab->tokenize("Once upon a time", false, false) == std::vector<int32_t>{403, 407, 261, 378});

  const auto golden = boost::json::parse(
      testing::read_whole_file(scn::testing::shared_path("golden/stories260K-prompts.json")));
  const auto& prompts = golden.as_array();
  REQUIRE(prompts.size() == 5);
  for (const auto& p : prompts) {
    const std::string prompt(p.at("prompt").as_string());
    std::vector<int32_t> expected;
    for (const auto& id : p.at("prompt_tokens_with_bos").as_array()) expected.push_back(static_cast<int32_t>(id.as_int64()));
    const auto got = vocab->tokenize(prompt, true, false);
    CHECK_MESSAGE(got == expected, prompt);
    std::vector<int32_t> all = got;
    for (const auto& id : p.at("greedy_tokens").as_array()) all.push_back(static_cast<int32_t>(id.as_int64()));
    CHECK(vocab->detokenize(all) == prompt + std::string(p.at("greedy_text").as_string()));
    CHECK(vocab->detokenize(got) == prompt);
  }
}

TEST_CASE("vocab: any bytes tokenize without crashing; valid UTF-8 round-trips") {
  const auto spm = load_vocab("vocab/ggml-vocab-llama-spm.gguf");
  const auto bpe = load_vocab("vocab/ggml-vocab-deepseek-llm.gguf");
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 200; ++iter) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    for (const Vocab* v : {spm.get(), bpe.get()}) {
      const auto ids = v->tokenize(s, true, true);
      for (int32_t id : ids) REQUIRE((id >= 0 && id < v->n_tokens()));
      (void)v->detokenize(ids, true);
    }
    // SentencePiece keeps invalid bytes as byte tokens: even these round-trip.
    // (A space becomes U+2581, whose bytes may join a stray lead byte.)
    if (s.find(' ') == std::string::npos) {
      CHECK(spm->detokenize(spm->tokenize(s, false, false)) == s);
    }
  }
  // Byte-level BPE replaces each invalid byte by U+FFFD.
  CHECK(bpe->detokenize(bpe->tokenize("a\xFF" "b", false, false)) == "a\xEF\xBF\xBD" "b");
  CHECK(bpe->detokenize(bpe->tokenize("\xE2\x82", false, false)) == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace scn::inference
