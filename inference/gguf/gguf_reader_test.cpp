// Reading real GGUF files: stories260K and the llama.cpp vocabulary files.
#include <doctest/doctest.h>

#include <filesystem>

#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

TEST_CASE("stories260K.gguf: known facts") {
  auto r = GgufFile::open(testing::shared_path("models/stories260K.gguf"));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  const GgufFile& f = **r;
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_u64("llama.block_count") == 5u);
  CHECK(f.get_u64("llama.embedding_length") == 64u);
  CHECK(f.get_u64("llama.feed_forward_length") == 172u);
  CHECK(f.get_u64("llama.attention.head_count") == 8u);
  CHECK(f.get_u64("llama.attention.head_count_kv") == 4u);
  CHECK(f.get_u64("llama.context_length") == 2048u);
  CHECK(f.get_f64("llama.attention.layer_norm_rms_epsilon").value_or(0) == doctest::Approx(1e-5));
  CHECK(f.get_u64("tokenizer.ggml.seperator_token_id") == 4294967295u);
  CHECK(f.get_string("tokenizer.ggml.model") == "llama");
  const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens");
  REQUIRE(tokens != nullptr);
  CHECK(tokens->type == GgufValueType::STRING);
  CHECK(tokens->size() == 512);
  const GgufArray* scores = f.get_array("tokenizer.ggml.scores");
  REQUIRE(scores != nullptr);
  CHECK(scores->floats.size() == 512);
  CHECK(f.get_u64("no.such.key") == std::nullopt);
  CHECK(f.get_string("llama.block_count") == std::nullopt);  // wrong type: no conversion

  // 2 + 5 * 9 + 1 tensors (token_embd, output_norm, ...) in the llama naming.
  CHECK(f.tensors().size() == 48);
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  REQUIRE(emb != nullptr);
  CHECK(emb->type == GgmlType::F32);
  CHECK(emb->dims == std::vector<int64_t>{64, 512});
  CHECK(emb->nbytes == 64u * 512u * 4u);
  const GgufTensorInfo* down = f.find_tensor("blk.4.ffn_down.weight");
  REQUIRE(down != nullptr);
  CHECK(down->dims == std::vector<int64_t>{172, 64});
  CHECK(f.find_tensor("blk.5.ffn_down.weight") == nullptr);
  for (const auto& t : f.tensors()) {
    CHECK(t.data != nullptr);
    CHECK(t.offset % f.alignment() == 0);
    CHECK(t.nbytes == static_cast<uint64_t>(t.n_elements()) * 4);
  }
}

TEST_CASE("every ../shared/vocab/*.gguf opens") {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(testing::shared_dir() / "vocab")) {
    if (e.path().extension() != ".gguf") continue;
    CAPTURE(e.path().string());
    auto r = GgufFile::open(e.path().string());
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    const GgufFile& f = **r;
    CHECK((f.version() == 2 || f.version() == 3));
    auto model = f.get_string("tokenizer.ggml.model");
    REQUIRE(model.has_value());
    CHECK((*model == "llama" || *model == "gpt2"));
    const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens");
    REQUIRE(tokens != nullptr);
    CHECK(tokens->size() > 1000);
    ++n;
  }
  CHECK(n >= 5);
}

TEST_CASE("open: missing file, directory, empty file") {
  auto r = GgufFile::open("/nonexistent/x.gguf");
  CHECK(r.status().code() == Code::kIoError);
  testing::TempDir dir;
  CHECK(GgufFile::open(dir.path().string()).status().code() == Code::kIoError);
  std::string empty = dir.file("empty.gguf");
  std::FILE* f = std::fopen(empty.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fclose(f);
  CHECK(GgufFile::open(empty).status().code() == Code::kCorruptData);
}

}  // namespace
}  // namespace scn::inference
