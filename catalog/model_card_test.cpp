#include "catalog/model_card.h"

#include <doctest/doctest.h>

#include <limits>

namespace scn::catalog {
namespace {

ModelFacts facts(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t context) {
  ModelFacts f;
  f.architecture = "llama";
  f.parameters = 1000;
  f.n_layers = layers;
  f.hidden_size = 64;
  f.n_heads = kv_heads;
  f.n_kv_heads = kv_heads;
  f.head_dim = head_dim;
  f.context_length = context;
  f.vocab_size = 32;
  return f;
}

TEST_CASE("quantization names parse case-insensitively and round-trip") {
  for (Quant q : all_quants()) {
    auto back = parse_quant(quant_name(q));
    REQUIRE(back.has_value());
    CHECK(*back == q);
  }
  CHECK(parse_quant("q4_k_m") == Quant::kQ4_K_M);
  CHECK(parse_quant("bf16") == Quant::kBF16);
  CHECK_FALSE(parse_quant("Q3_K_XS").has_value());
  CHECK_FALSE(parse_quant("").has_value());
  CHECK(known_quant_names() == "F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0");
}

TEST_CASE("bits per weight and estimated file sizes") {
  struct Row {
    Quant q;
    double bpw;
    int64_t parameters;
    int64_t bytes;  // ceil(parameters * bpw / 8)
  };
  const Row rows[] = {
      {Quant::kQ8_0, 8.5, 1000, 1063},       // 1062.5 rounds up
      {Quant::kQ4_0, 4.5, 16, 9},
      {Quant::kQ4_K_M, 4.85, 7615616512, 4616967511},  // Qwen2.5-7B
      {Quant::kQ5_K_M, 5.7, 1000, 713},      // 712.5
      {Quant::kQ6_K, 6.5625, 256, 210},
      {Quant::kF16, 16, 494032768, 988065536},  // Qwen2.5-0.5B
      {Quant::kBF16, 16, 3, 6},
      {Quant::kF32, 32, 292800, 1171200},
  };
  for (const auto& r : rows) {
    CAPTURE(quant_name(r.q));
    CHECK(bits_per_weight(r.q) == doctest::Approx(r.bpw));
    auto est = estimate_file_bytes(r.parameters, r.q);
    REQUIRE(est.is_ok());
    CHECK(*est == r.bytes);
  }
  CHECK(estimate_file_bytes(0, Quant::kF16).status().code() == Code::kInvalidArgument);
  CHECK(estimate_file_bytes(-5, Quant::kF16).status().code() == Code::kInvalidArgument);
  CHECK(estimate_file_bytes(std::numeric_limits<int64_t>::max() / 2, Quant::kF32).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("KV-cache bytes per token = layers x KV heads x head_dim x 2 x element bytes") {
  struct Row {
    const char* model;
    int64_t layers, kv_heads, head_dim;
    int element_bytes;
    int64_t expected;
  };
  const Row rows[] = {
      {"Qwen2.5-7B, F16 cache", 28, 4, 128, 2, 57344},
      {"Qwen2.5-7B, F32 cache (scn's engine)", 28, 4, 128, 4, 114688},
      {"Qwen2.5-0.5B, F16", 24, 2, 64, 2, 12288},
      {"Llama-3.1-8B, F16", 32, 8, 128, 2, 131072},
      {"Llama-3.3-70B, F16", 80, 8, 128, 2, 327680},
      {"Gemma-2-9B, F16 (head_dim 256)", 42, 8, 256, 2, 344064},
      {"Gemma-2-27B, F16", 46, 16, 128, 2, 376832},
      {"stories260K, F32", 5, 4, 8, 4, 1280},
  };
  for (const auto& r : rows) {
    CAPTURE(r.model);
    CHECK(kv_bytes_per_token(facts(r.layers, r.kv_heads, r.head_dim, 4096), r.element_bytes) ==
          r.expected);
  }
  CHECK(kv_bytes_per_token(facts(0, 4, 128, 1), 4) == 0);
  CHECK(kv_bytes_per_token(facts(28, 4, 128, 1), 0) == 0);
  // Saturates instead of overflowing.
  CHECK(kv_bytes_per_token(facts(int64_t{1} << 40, int64_t{1} << 20, int64_t{1} << 10, 1), 4) ==
        std::numeric_limits<int64_t>::max());
}

TEST_CASE("requirements and fits: weights + KV budget for the context + overhead") {
  ModelCard card;
  card.name = "stories260k";
  card.facts = facts(5, 4, 8, 2048);
  ModelFile file;
  file.quantization = Quant::kF32;
  file.size_bytes = 1185376;
  card.files.push_back(file);

  const Requirements r = requirements(card, file);
  CHECK(r.weight_bytes == 1185376);
  CHECK(r.kv_bytes_per_token == 1280);  // float32 K/V by default
  CHECK(r.runtime_overhead_bytes == 256 * kMiB);
  CHECK(r.context_length == 2048);
  const int64_t need = 1185376 + 1280 * 2048 + 268435456;  // 272,242,272
  CHECK(r.bytes_for_context(2048) == need);
  CHECK(r.bytes_for_context(-1) == 1185376 + 268435456);

  struct Row {
    int64_t free_bytes, context;
    bool fits;
  };
  const Row rows[] = {
      {need, 2048, true},           {need - 1, 2048, false},   // exactly at the edge
      {int64_t{1} << 40, 2049, false},  // beyond the model's context
      {int64_t{1} << 40, 0, false},     {int64_t{1} << 40, -3, false},
      {need - 1280, 2047, true},    {0, 1, false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.free_bytes);
    CAPTURE(row.context);
    CHECK(r.fits(row.free_bytes, row.context) == row.fits);
  }
  CHECK(r.max_context_for(need) == 2048);
  CHECK(r.max_context_for(need - 1) == 2047);
  CHECK(r.max_context_for(1185376 + 268435456) == 0);
  CHECK(r.max_context_for(int64_t{1} << 40) == 2048);

  RequirementOptions f16;
  f16.kv_element_bytes = 2;
  f16.runtime_overhead_bytes = 0;
  const Requirements r16 = requirements(card, file, f16);
  CHECK(r16.kv_bytes_per_token == 640);
  CHECK(r16.bytes_for_context(100) == 1185376 + 64000);
}

TEST_CASE("a Qwen2.5-7B Q4_K_M replica on an 8 GiB device") {
  ModelCard card;
  card.name = "qwen2.5-7b-instruct";
  card.facts = facts(28, 4, 128, 32768);
  ModelFile file;
  file.quantization = Quant::kQ4_K_M;
  file.size_bytes = estimate_file_bytes(7615616512, Quant::kQ4_K_M).value();
  const Requirements r = requirements(card, file);
  // 4,616,967,511 + 114,688 x 32,768 + 256 MiB = 8,643,499,351 > 8 GiB.
  CHECK(r.bytes_for_context(32768) == 8643499351);
  CHECK_FALSE(r.fits(8 * kGiB, 32768));
  CHECK(r.max_context_for(8 * kGiB) == 32300);
  CHECK(r.fits(8 * kGiB, 32300));
  CHECK_FALSE(r.fits(8 * kGiB, 32301));
  CHECK(r.fits(141 * kGiB, 32768));  // one H200
}

TEST_CASE("check_launchable refuses cards without weights") {
  ModelCard card;
  card.name = "llama-3.3-70b-instruct";
  ModelFile absent;
  absent.quantization = Quant::kQ4_K_M;
  absent.size_bytes = 1;
  Status st = check_launchable(card, absent);
  CHECK(st.code() == Code::kConflict);
  CHECK(st.http_status() == 409);
  CHECK(st.message() == "model 'llama-3.3-70b-instruct' (Q4_K_M): weights not present in any center");

  ModelFile present = absent;
  present.uri = "file:///models/x.gguf";
  present.sha256 = std::string(64, 'a');
  CHECK(check_launchable(card, present).is_ok());
  CHECK(present.weights_present());
  CHECK_FALSE(absent.weights_present());
}

TEST_CASE("size sources and file lookup") {
  CHECK(parse_size_source("exact") == SizeSource::kExact);
  CHECK(parse_size_source("estimated") == SizeSource::kEstimated);
  CHECK_FALSE(parse_size_source("guessed").has_value());
  CHECK(size_source_name(SizeSource::kEstimated) == "estimated");
  ModelCard card;
  ModelFile a, b;
  a.quantization = Quant::kQ8_0;
  b.quantization = Quant::kF16;
  card.files = {a, b};
  REQUIRE(card.file(Quant::kF16) != nullptr);
  CHECK(card.file(Quant::kF16)->quantization == Quant::kF16);
  CHECK(card.file(Quant::kQ4_0) == nullptr);
}

}  // namespace
}  // namespace scn::catalog
