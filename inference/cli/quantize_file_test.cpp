// quantize_file and the per-tensor type rules (q4_K_M mix) it shares with synth.
#include <doctest/doctest.h>

#include <cmath>

#include "inference/backend/cpu/quants.h"
#include "inference/cli/quantize_file.h"
#include "inference/gguf/gguf.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

const std::string kStories = "models/stories260K.gguf";

TEST_CASE("use_more_bits matches llama.cpp's rule") {
  // n = 28 (Qwen2.5-1.5B): the first 3, the last 4, and every third from 5.
  std::vector<int> more;
  for (int i = 0; i < 28; ++i)
    if (use_more_bits(i, 28)) more.push_back(i);
  CHECK(more == std::vector<int>{0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27});
  more.clear();
  for (int i = 0; i < 5; ++i)
    if (use_more_bits(i, 5)) more.push_back(i);
  CHECK(more == std::vector<int>{2, 4});
}

TEST_CASE("parse_quant_target") {
  struct Case { const char* in; GgmlType type; bool mix; uint32_t ftype; };
  const Case cases[] = {
      {"q8_0", GgmlType::Q8_0, false, 7}, {"Q4_0", GgmlType::Q4_0, false, 2},
      {"q4_k_m", GgmlType::Q4_K, true, 15}, {"Q4_K_M", GgmlType::Q4_K, true, 15},
      {"q6_K", GgmlType::Q6_K, false, 18}, {"bf16", GgmlType::BF16, false, 32},
      {"f32", GgmlType::F32, false, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    auto t = parse_quant_target(c.in);
    REQUIRE(t.is_ok());
    CHECK(t->type == c.type);
    CHECK(t->q4_k_m == c.mix);
    CHECK(t->file_type == c.ftype);
  }
  auto bad = parse_quant_target("q3_K");
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message().find("q4_K_M") != std::string::npos);
}

std::vector<std::string> layer_names(int n_layer, bool tied) {
  std::vector<std::string> n = {"token_embd.weight"};
  for (int i = 0; i < n_layer; ++i)
    for (const char* t : {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                          "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"})
      n.push_back("blk." + std::to_string(i) + "." + t);
  n.push_back("output_norm.weight");
  if (!tied) n.push_back("output.weight");
  return n;
}

TEST_CASE("q4_K_M mix: Qwen2.5-1.5B (rows of 1536 and 8960) and Qwen2.5-0.5B (896)") {
  auto target = parse_quant_target("q4_K_M");
  REQUIRE(target.is_ok());
  {  // 1.5B: tied, 28 layers, every row a multiple of 256 except ffn_down's 8960 (35 * 256: fits)
    auto names = layer_names(28, true);
    TypePlanner p(*target, names);
    std::vector<int64_t> embd = {1536, 151936}, v = {1536, 256}, q = {1536, 1536}, down = {8960, 1536}, norm = {1536};
    CHECK(p.plan("token_embd.weight", embd, GgmlType::F32, nullptr) == GgmlType::Q6_K);  // tied: output
    for (int i = 0; i < 28; ++i) {
      CAPTURE(i);
      const std::string b = "blk." + std::to_string(i) + ".";
      const GgmlType more = use_more_bits(i, 28) ? GgmlType::Q6_K : GgmlType::Q4_K;
      CHECK(p.plan(b + "attn_norm.weight", norm, GgmlType::F32, nullptr) == GgmlType::F32);
      CHECK(p.plan(b + "attn_q.weight", q, GgmlType::F32, nullptr) == GgmlType::Q4_K);
      CHECK(p.plan(b + "attn_v.weight", v, GgmlType::F32, nullptr) == more);
      CHECK(p.plan(b + "ffn_down.weight", down, GgmlType::F32, nullptr) == more);
      CHECK(p.plan(b + "ffn_up.weight", std::vector<int64_t>{1536, 8960}, GgmlType::F32, nullptr) == GgmlType::Q4_K);
    }
  }
  {  // 0.5B: 896 is not a multiple of 256 -> q5_0 / q8_0 (what real Q4_K_M files of it hold)
    auto names = layer_names(24, true);
    TypePlanner p(*target, names);
    std::vector<int64_t> embd = {896, 151936}, v = {896, 128}, down = {4864, 896};
    std::string note;
    CHECK(p.plan("token_embd.weight", embd, GgmlType::F32, &note) == GgmlType::Q8_0);
    CHECK(p.plan("blk.0.attn_v.weight", v, GgmlType::F32, &note) == GgmlType::Q8_0);     // q6_K -> q8_0
    CHECK(note.find("q6_K -> q8_0") != std::string::npos);
    CHECK(p.plan("blk.1.attn_v.weight", v, GgmlType::F32, &note) == GgmlType::Q8_0);
    CHECK(p.plan("blk.2.attn_v.weight", v, GgmlType::F32, &note) == GgmlType::Q8_0);  // counted in file order
    CHECK(p.plan("blk.3.attn_v.weight", v, GgmlType::F32, &note) == GgmlType::Q5_0);     // q4_K -> q5_0
    CHECK(p.plan("blk.3.attn_q.weight", std::vector<int64_t>{896, 896}, GgmlType::F32, &note) == GgmlType::Q5_0);
    CHECK(p.plan("blk.0.ffn_down.weight", down, GgmlType::F32, &note) == GgmlType::Q6_K);  // 4864 = 19 * 256
  }
  {  // untied: token_embd is an ordinary weight, output.weight gets q6_K
    auto names = layer_names(2, false);
    TypePlanner p(*target, names);
    CHECK(p.plan("token_embd.weight", std::vector<int64_t>{512, 1000}, GgmlType::F32, nullptr) == GgmlType::Q4_K);
    CHECK(p.plan("output.weight", std::vector<int64_t>{512, 1000}, GgmlType::F32, nullptr) == GgmlType::Q6_K);
  }
}

TEST_CASE("single type: weights whose rows do not fit keep their type") {
  auto target = parse_quant_target("q4_0");
  REQUIRE(target.is_ok());
  TypePlanner p(*target, {"a.weight", "b.weight"});
  std::string note;
  CHECK(p.plan("a.weight", std::vector<int64_t>{64, 3}, GgmlType::F16, &note) == GgmlType::Q4_0);
  CHECK(p.plan("b.weight", std::vector<int64_t>{172, 3}, GgmlType::F16, &note) == GgmlType::F16);
  CHECK(note.find("172") != std::string::npos);
  CHECK(p.plan("c.bias", std::vector<int64_t>{64, 3}, GgmlType::F32, nullptr) == GgmlType::F32);
  CHECK(p.plan("c.weight", std::vector<int64_t>{64}, GgmlType::F32, nullptr) == GgmlType::F32);
  CHECK(p.plan("blk.0.attn_norm.weight", std::vector<int64_t>{64, 2}, GgmlType::F32, nullptr) == GgmlType::F32);
}

// Max |a - b| over a tensor, dequantizing b.
double max_diff(const GgufTensorInfo& a, const GgufTensorInfo& b) {
  const int64_t n = a.dims[0], rows = a.n_elements() / n;
  std::vector<float> x(n), y(n);
  double m = 0;
  for (int64_t r = 0; r < rows; ++r) {
    REQUIRE(dequantize_row(a.type, a.data + row_size(a.type, n) * r, x.data(), n).is_ok());
    REQUIRE(dequantize_row(b.type, b.data + row_size(b.type, n) * r, y.data(), n).is_ok());
    for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(std::fabs(x[i] - y[i])));
  }
  return m;
}

TEST_CASE("quantize stories260K to q8_0 and q4_K_M") {
  testing::TempDir dir;
  auto in = GgufFile::open(testing::shared_path(kStories));
  REQUIRE(in.is_ok());
  const GgufFile& src = **in;

  std::string report;
  REQUIRE(quantize_file(testing::shared_path(kStories), dir.file("q8.gguf"), "q8_0", &report).is_ok());
  CHECK(report.find("blk.0.ffn_down.weight: f32 (kept f32: row length 172") != std::string::npos);
  auto q8 = GgufFile::open(dir.file("q8.gguf"));
  REQUIRE(q8.is_ok());
  CHECK((*q8)->get_u64("general.file_type") == 7u);
  CHECK((*q8)->get_u64("general.quantization_version") == 2u);
  CHECK((*q8)->get_string("general.architecture") == "llama");
  CHECK((*q8)->get_array("tokenizer.ggml.tokens")->size() == 512);
  CHECK((*q8)->metadata().size() == src.metadata().size() + 2);
  REQUIRE((*q8)->tensors().size() == src.tensors().size());
  for (size_t i = 0; i < src.tensors().size(); ++i) {
    const auto& a = src.tensors()[i];
    const auto& b = (*q8)->tensors()[i];
    CAPTURE(a.name);
    CHECK(b.name == a.name);
    CHECK(b.dims == a.dims);
    const bool weight2d = a.dims.size() == 2 && a.name.find("ffn_down") == std::string::npos;
    CHECK(b.type == (weight2d ? GgmlType::Q8_0 : GgmlType::F32));
    CHECK(max_diff(a, b) <= (weight2d ? 0.02 : 0.0));
  }

  REQUIRE(quantize_file(testing::shared_path(kStories), dir.file("q4km.gguf"), "q4_K_M", &report).is_ok());
  auto m = GgufFile::open(dir.file("q4km.gguf"));
  REQUIRE(m.is_ok());
  const GgufFile& k = **m;
  CHECK(k.get_u64("general.file_type") == 15u);
  // Rows of 64 are no super-blocks: q4_K -> q5_0, q6_K -> q8_0; ffn_down (172) fits nothing.
  CHECK(k.find_tensor("output.weight")->type == GgmlType::Q8_0);
  CHECK(k.find_tensor("token_embd.weight")->type == GgmlType::Q5_0);
  CHECK(k.find_tensor("blk.0.attn_q.weight")->type == GgmlType::Q5_0);
  CHECK(k.find_tensor("blk.0.attn_v.weight")->type == GgmlType::Q5_0);
  CHECK(k.find_tensor("blk.2.attn_v.weight")->type == GgmlType::Q8_0);  // use_more_bits(2, 5)
  CHECK(k.find_tensor("blk.4.attn_v.weight")->type == GgmlType::Q8_0);
  for (int i = 0; i < 5; ++i) {
    const auto* down = k.find_tensor("blk." + std::to_string(i) + ".ffn_down.weight");
    REQUIRE(down != nullptr);
    CHECK(down->type == GgmlType::F32);
    CHECK(down->dims == std::vector<int64_t>{172, 64});
  }
  CHECK(k.find_tensor("blk.3.ffn_norm.weight")->type == GgmlType::F32);
  CHECK(max_diff(*src.find_tensor("blk.1.ffn_up.weight"), *k.find_tensor("blk.1.ffn_up.weight")) < 0.1);

  // Re-quantizing a quantized file goes through dequantization.
  REQUIRE(quantize_file(dir.file("q8.gguf"), dir.file("q4.gguf"), "q4_0", &report).is_ok());
  auto q4 = GgufFile::open(dir.file("q4.gguf"));
  REQUIRE(q4.is_ok());
  CHECK((*q4)->find_tensor("blk.0.attn_k.weight")->type == GgmlType::Q4_0);
  CHECK(max_diff(*src.find_tensor("blk.0.attn_k.weight"), *(*q4)->find_tensor("blk.0.attn_k.weight")) < 0.2);
}

TEST_CASE("quantize_file errors") {
  testing::TempDir dir;
  CHECK(quantize_file("/nonexistent.gguf", dir.file("x.gguf"), "q8_0", nullptr).code() == Code::kIoError);
  CHECK(quantize_file(testing::shared_path(kStories), dir.file("x.gguf"), "q9_9", nullptr).code() ==
        Code::kInvalidArgument);
  CHECK(!quantize_file(testing::shared_path(kStories), "/nonexistent-dir/x.gguf", "q8_0", nullptr).is_ok());
}

TEST_CASE("convert_rows splits work over threads and reports errors") {
  std::vector<float> x(64 * 40);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  std::vector<uint8_t> one(row_size(GgmlType::Q8_0, 64) * 40), many(one.size());
  const auto* src = reinterpret_cast<const uint8_t*>(x.data());
  REQUIRE(convert_rows(GgmlType::F32, src, GgmlType::Q8_0, one.data(), 64, 40, 1).is_ok());
  REQUIRE(convert_rows(GgmlType::F32, src, GgmlType::Q8_0, many.data(), 64, 40, 7).is_ok());
  CHECK(one == many);
  CHECK(!convert_rows(GgmlType::F32, src, GgmlType::Q4_K, many.data(), 64, 40, 3).is_ok());
}

}  // namespace
}  // namespace scn::inference
