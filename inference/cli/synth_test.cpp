// synth_model: exact names, shapes and metadata; determinism; tokenizers.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "inference/backend/cpu/quants.h"
#include "inference/cli/synth.h"
#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

std::vector<float> dequantize(const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  REQUIRE(dequantize_row(t.type, t.data, out.data(), t.n_elements()).is_ok());
  return out;
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_CASE("known shapes carry the real models' figures") {
  struct Want {
    const char* name; const char* arch; int64_t embd, layers, heads, kv, ff, vocab; bool tied; double rope;
  };
  const Want wants[] = {
      {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, true, 1e6},
      {"qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, true, 1e6},
      {"qwen2.5-3b", "qwen2", 2048, 36, 16, 2, 11008, 151936, true, 1e6},
      {"qwen2.5-7b", "qwen2", 3584, 28, 28, 4, 18944, 152064, false, 1e6},
      {"deepseek-r1-distill-qwen-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, false, 1e4},
      {"llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, true, 5e5},
      {"llama-3.2-3b", "llama", 3072, 28, 24, 8, 8192, 128256, true, 5e5},
      {"llama-3.1-8b", "llama", 4096, 32, 32, 8, 14336, 128256, false, 5e5},
      {"tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, false, 1e4},
  };
  for (const auto& w : wants) {
    CAPTURE(w.name);
    const ModelShape* s = find_shape(w.name);
    REQUIRE(s != nullptr);
    CHECK(s->arch == w.arch);
    CHECK(s->n_embd == w.embd);
    CHECK(s->n_layer == w.layers);
    CHECK(s->n_head == w.heads);
    CHECK(s->n_head_kv == w.kv);
    CHECK(s->n_ff == w.ff);
    CHECK(s->n_vocab == w.vocab);
    CHECK(s->tied == w.tied);
    CHECK(s->rope_base == w.rope);
    CHECK(s->qkv_bias == (s->arch == "qwen2"));
    CHECK(!s->test_only);
  }
  CHECK(find_shape("gpt-5") == nullptr);
}

TEST_CASE("synth test-tiny-qwen2: names, shapes, metadata, vocabulary, values") {
  testing::TempDir dir;
  const ModelShape& s = *find_shape("test-tiny-qwen2");
  std::string report;
  REQUIRE(synth_model(s, SynthOptions{"q8_0", 7, "", 2}, dir.file("m.gguf"), &report).is_ok());
  CHECK(report.find("26 tensors") != std::string::npos);
  auto r = GgufFile::open(dir.file("m.gguf"));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  const GgufFile& f = **r;
  CHECK(f.get_string("general.architecture") == "qwen2");
  CHECK(f.get_string("general.name") == "synthetic test-tiny-qwen2 (random weights)");
  CHECK(f.get_u64("general.file_type") == 7u);
  CHECK(f.get_u64("qwen2.block_count") == 2u);
  CHECK(f.get_u64("qwen2.embedding_length") == 96u);
  CHECK(f.get_u64("qwen2.feed_forward_length") == 256u);
  CHECK(f.get_u64("qwen2.attention.head_count") == 4u);
  CHECK(f.get_u64("qwen2.attention.head_count_kv") == 2u);
  CHECK(f.get_u64("qwen2.context_length") == 256u);
  CHECK(f.get_f64("qwen2.rope.freq_base") == 1e6);
  CHECK(f.get_f64("qwen2.attention.layer_norm_rms_epsilon") == doctest::Approx(1e-6));

  struct T { const char* name; std::vector<int64_t> dims; GgmlType type; };
  const T want[] = {
      {"token_embd.weight", {96, 300}, GgmlType::Q8_0},
      {"blk.0.attn_norm.weight", {96}, GgmlType::F32},
      {"blk.0.attn_q.weight", {96, 96}, GgmlType::Q8_0},
      {"blk.0.attn_q.bias", {96}, GgmlType::F32},
      {"blk.0.attn_k.weight", {96, 48}, GgmlType::Q8_0},
      {"blk.0.attn_k.bias", {48}, GgmlType::F32},
      {"blk.0.attn_v.weight", {96, 48}, GgmlType::Q8_0},
      {"blk.0.attn_v.bias", {48}, GgmlType::F32},
      {"blk.1.attn_output.weight", {96, 96}, GgmlType::Q8_0},
      {"blk.1.ffn_norm.weight", {96}, GgmlType::F32},
      {"blk.1.ffn_gate.weight", {96, 256}, GgmlType::Q8_0},
      {"blk.1.ffn_up.weight", {96, 256}, GgmlType::Q8_0},
      {"blk.1.ffn_down.weight", {256, 96}, GgmlType::Q8_0},
      {"output_norm.weight", {96}, GgmlType::F32},
  };
  CHECK(f.tensors().size() == 26);
  for (const auto& w : want) {
    CAPTURE(w.name);
    const GgufTensorInfo* t = f.find_tensor(w.name);
    REQUIRE(t != nullptr);
    CHECK(t->dims == w.dims);
    CHECK(t->type == w.type);
  }
  CHECK(f.find_tensor("output.weight") == nullptr);  // tied

  // Vocabulary: byte tokens in GPT-2 form, fillers, <|endoftext|> last.
  const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens");
  REQUIRE(tokens != nullptr);
  REQUIRE(tokens->size() == 300);
  CHECK(tokens->strings[0] == "\xC4\x80");    // byte 0 -> U+0100
  CHECK(tokens->strings[32] == "\xC4\xA0");   // space -> U+0120 'Ġ'
  CHECK(tokens->strings[33] == "!");
  CHECK(tokens->strings[255] == "\xC3\xBF");  // byte 255 is printable: U+00FF
  CHECK(tokens->strings[256] == "<synth_256>");
  CHECK(tokens->strings[299] == "<|endoftext|>");
  CHECK(f.get_array("tokenizer.ggml.token_type")->ints[299] == 3);
  CHECK(f.get_u64("tokenizer.ggml.eos_token_id") == 299u);
  CHECK(f.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(f.get_string("tokenizer.ggml.pre") == "qwen2");
  CHECK(f.get_array("tokenizer.ggml.merges")->size() == 0);

  // Values: weights ~ N(0, 0.02), norms ~ 1.
  auto w = dequantize(*f.find_tensor("blk.1.ffn_gate.weight"));
  double sum = 0, sq = 0;
  for (float v : w) sum += v, sq += static_cast<double>(v) * v;
  const double mean = sum / w.size(), sd = std::sqrt(sq / w.size() - mean * mean);
  CHECK(std::fabs(mean) < 0.002);
  CHECK(sd == doctest::Approx(0.02).epsilon(0.15));
  auto norm = dequantize(*f.find_tensor("blk.0.attn_norm.weight"));
  double nsum = 0;
  for (float v : norm) nsum += v;
  CHECK(nsum / norm.size() == doctest::Approx(1.0).epsilon(0.05));
}

TEST_CASE("synth: same seed same bytes, other seed other bytes") {
  testing::TempDir dir;
  const ModelShape& s = *find_shape("test-tiny-llama");
  REQUIRE(synth_model(s, SynthOptions{"q4_0", 1, "", 2}, dir.file("a.gguf"), nullptr).is_ok());
  REQUIRE(synth_model(s, SynthOptions{"q4_0", 1, "", 1}, dir.file("b.gguf"), nullptr).is_ok());
  REQUIRE(synth_model(s, SynthOptions{"q4_0", 2, "", 2}, dir.file("c.gguf"), nullptr).is_ok());
  CHECK(read_all(dir.file("a.gguf")) == read_all(dir.file("b.gguf")));
  CHECK(read_all(dir.file("a.gguf")) != read_all(dir.file("c.gguf")));
}

TEST_CASE("synth test-tiny-llama q4_K_M and a Llama 3 rope_freqs tensor") {
  testing::TempDir dir;
  ModelShape s = *find_shape("test-tiny-llama");
  s.rope_llama3_factor = 32;
  s.rope_base = 5e5;
  REQUIRE(synth_model(s, SynthOptions{"q4_K_M", 3, "", 2}, dir.file("m.gguf"), nullptr).is_ok());
  auto r = GgufFile::open(dir.file("m.gguf"));
  REQUIRE(r.is_ok());
  const GgufFile& f = **r;
  CHECK(f.get_u64("general.file_type") == 15u);
  CHECK(f.get_u64("llama.vocab_size") == 320u);
  CHECK(f.get_u64("llama.rope.dimension_count") == 64u);
  CHECK(f.find_tensor("output.weight")->type == GgmlType::Q6_K);      // rows of 256
  CHECK(f.find_tensor("token_embd.weight")->type == GgmlType::Q4_K);  // untied: ordinary weight
  CHECK(f.find_tensor("blk.0.ffn_gate.weight")->type == GgmlType::Q4_K);
  CHECK(f.find_tensor("blk.0.ffn_down.weight")->type == GgmlType::Q5_0);  // rows of 96: q4_K -> q5_0
  CHECK(f.find_tensor("blk.1.ffn_down.weight")->type == GgmlType::Q8_0);  // use_more_bits(1, 2): q6_K -> q8_0
  const GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight");
  REQUIRE(rf != nullptr);
  CHECK(rf->dims == std::vector<int64_t>{32});
  auto factors = dequantize(*rf);
  CHECK(factors.front() == 1.0f);  // high frequencies unscaled
  CHECK(factors.back() == 32.0f);  // low frequencies scaled by the factor
  for (size_t i = 1; i < factors.size(); ++i) CHECK(factors[i] >= factors[i - 1]);
}

TEST_CASE("synth with a Hugging Face tokenizer pads the vocabulary") {
  testing::TempDir dir;
  const std::string tok = testing::shared_path("tokenizers/qwen/tokenizer.json");
  ModelShape s = *find_shape("test-tiny-qwen2");
  CHECK(synth_model(s, SynthOptions{"q8_0", 1, tok, 2}, dir.file("small.gguf"), nullptr).code() ==
        Code::kInvalidArgument);  // 300 < the tokenizer's size
  s.n_vocab = 151936;
  REQUIRE(synth_model(s, SynthOptions{"q8_0", 1, tok, 2}, dir.file("m.gguf"), nullptr).is_ok());
  auto r = GgufFile::open(dir.file("m.gguf"));
  REQUIRE(r.is_ok());
  const GgufArray* tokens = (*r)->get_array("tokenizer.ggml.tokens");
  REQUIRE(tokens != nullptr);
  CHECK(tokens->size() == 151936);
  CHECK(tokens->strings.back() == "[PAD151935]");
  CHECK((*r)->get_array("tokenizer.ggml.token_type")->size() == 151936);
  CHECK((*r)->get_string("tokenizer.ggml.pre") == "qwen2");
  CHECK((*r)->find_tensor("token_embd.weight")->dims == std::vector<int64_t>{96, 151936});
}

TEST_CASE("synth errors") {
  testing::TempDir dir;
  const ModelShape& s = *find_shape("test-tiny-qwen2");
  CHECK(synth_model(s, SynthOptions{"q7_0", 1, "", 2}, dir.file("x.gguf"), nullptr).code() == Code::kInvalidArgument);
  ModelShape bad = s;
  bad.n_head = 5;  // 96 is not a multiple of 5
  CHECK(synth_model(bad, SynthOptions{}, dir.file("x.gguf"), nullptr).code() == Code::kInvalidArgument);
  CHECK(synth_model(s, SynthOptions{"q8_0", 1, dir.file("missing.json"), 2}, dir.file("x.gguf"), nullptr).code() ==
        Code::kIoError);
}

}  // namespace
}  // namespace scn::inference
