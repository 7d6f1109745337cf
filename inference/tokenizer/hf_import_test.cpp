// import_hf_tokenizer: the Qwen tokenizer.json into a vocab-only GGUF, checked
// against llama.cpp's qwen2 test vectors; and the importer's error paths.
#include "inference/tokenizer/hf_import.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "inference/tokenizer/chat_template.h"
#include "inference/tokenizer/vocab.h"
#include "inference/tokenizer/vocab_test_cases.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

}  // namespace

TEST_CASE("hf_import: Qwen tokenizer.json passes every qwen2 test vector") {
  scn::testing::TempDir dir;
  const std::string gguf_path = dir.file("qwen-vocab.gguf");
  {
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("qwen2"));
    const Status st = import_hf_tokenizer(scn::testing::shared_path("tokenizers/qwen/tokenizer.json"), w);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    REQUIRE(w.write(gguf_path).is_ok());
  }
  auto file = GgufFile::open(gguf_path);
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  CHECK((*file)->get_string("tokenizer.ggml.model") == "gpt2");
  CHECK((*file)->get_string("tokenizer.ggml.pre") == "qwen2");
  auto vocab_or = Vocab::from_gguf(**file);
  REQUIRE_MESSAGE(vocab_or.is_ok(), vocab_or.status().to_string());
  const Vocab& vocab = **vocab_or;

  CHECK(vocab.n_tokens() == 151669);
  CHECK(vocab.n_merges() == 151387);
  CHECK(vocab.pre_type() == PreTokenizerType::kQwen2);
  // From tokenizer_config.json: eos <|im_end|>, pad <|endoftext|>, no BOS.
  CHECK(vocab.eos() == 151645);
  CHECK(vocab.pad() == 151643);
  CHECK(vocab.bos() == -1);
  CHECK_FALSE(vocab.add_bos());
  CHECK(vocab.is_eog(151645));
  CHECK(vocab.is_eog(151643));
  CHECK(vocab.eot() == 151645);
  CHECK(vocab.is_control(151644));                                  // <|im_start|>, special
  CHECK(vocab.is_control(vocab.find_token("<|fim_prefix|>").value()));  // looks special
  CHECK(vocab.is_user_defined(vocab.find_token("<think>").value()));
  REQUIRE(vocab.chat_template().has_value());
  CHECK(ChatTemplate::detect(vocab.chat_template(), vocab).name() == "qwen3");

  const std::string base = scn::testing::shared_path("vocab/ggml-vocab-qwen2.gguf");
  const auto cases = testing::read_vocab_cases(base + ".inp", base + ".out");
  REQUIRE(cases.size() >= 40);
  for (const auto& [text, expected] : cases) {
    const auto got = vocab.tokenize(text, false, false);
    CHECK_MESSAGE(got == expected, "'", text, "'\n  expected ", show(expected), "\n  got      ", show(got));
    CHECK(vocab.detokenize(got) == text);
  }

  // A chat prompt: control tokens parsed, the rest byte-level BPE.
  const auto ids = vocab.tokenize("<|im_start|>user\nHi<|im_end|>\n", true, true);
  REQUIRE(ids.size() == 6);
  CHECK(ids[0] == 151644);
  CHECK(ids[4] == 151645);
  CHECK(vocab.detokenize(ids) == "user\nHi\n");
  CHECK(vocab.detokenize(ids, true) == "<|im_start|>user\nHi<|im_end|>\n");
}

TEST_CASE("hf_import: merges as [a, b] pairs, config ids and error cases") {
  scn::testing::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  const std::string good = R"({
    "added_tokens": [{"id": 5, "content": "<|end|>", "special": true},
                     {"id": 6, "content": "<tool>", "special": false}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
              "merges": [["a", "b"], "Ġ ab"]}})";
  write_text(path, good);
  write_text(dir.file("tokenizer_config.json"),
             R"({"eos_token": {"content": "<|end|>"}, "add_bos_token": false,
                 "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "<|im_start|>"}]})");
  GgufWriter w;
  REQUIRE(import_hf_tokenizer(path, w).is_ok());
  auto bytes = w.serialize();
  REQUIRE(bytes.is_ok());
  auto file = GgufFile::from_memory(bytes->data(), bytes->size());
  REQUIRE_MESSAGE(file.is_ok(), file.status().to_string());
  CHECK((*file)->get_string("tokenizer.ggml.pre") == "gpt-2");
  CHECK((*file)->get_string("tokenizer.chat_template") == "<|im_start|>");
  CHECK((*file)->get_u64("tokenizer.ggml.eos_token_id") == 5u);
  const GgufArray* merges = (*file)->get_array("tokenizer.ggml.merges");
  REQUIRE(merges != nullptr);
  CHECK(merges->strings == std::vector<std::string>{"a b", "Ġ ab"});
  auto vocab = Vocab::from_gguf(**file);
  REQUIRE_MESSAGE(vocab.is_ok(), vocab.status().to_string());
  CHECK((*vocab)->tokenize("ab ab<tool>", false, false) == std::vector<int32_t>{2, 4, 6});
  CHECK((*vocab)->is_eog(5));

  struct Bad {
    const char* json;
    Code code;
  };
  const Bad bad[] = {
      {"{", Code::kCorruptData},
      {R"({"model": {"type": "WordPiece", "vocab": {}}})", Code::kUnprocessable},
      {R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []},
           "decoder": {"type": "ByteLevel"}})", Code::kUnprocessable},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})", Code::kUnprocessable},
      {R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}},
           "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
       Code::kUnprocessable},
      {R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}})",
       Code::kCorruptData},
      {R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": -3}, "merges": []}})",
       Code::kCorruptData},
      {R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}})",
       Code::kCorruptData},
  };
  std::remove(dir.file("tokenizer_config.json").c_str());
  for (const Bad& b : bad) {
    write_text(path, b.json);
    GgufWriter w2;
    const Status st = import_hf_tokenizer(path, w2);
    CHECK_MESSAGE(st.code() == b.code, b.json, " -> ", st.to_string());
  }
  GgufWriter w3;
  CHECK(import_hf_tokenizer(dir.file("missing.json"), w3).code() == Code::kIoError);
}

}  // namespace scn::inference
