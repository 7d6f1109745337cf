// A qwen2-architecture model built from stories260K (keys renamed, Q/K rows
// permuted from the adjacent-pair layout to the NEOX halves layout, zero
// q/k/v biases) must reproduce the llama golden story exactly.
#include <doctest/doctest.h>

#include <cstring>

#include "inference/model/model_test_util.h"

namespace scn::inference {
namespace {

using namespace model_test;

// Reorders each head's rows of a [n_heads * hd][cols] F32 matrix from the
// pairs (2i, 2i+1) that RoPE NORM rotates to the pairs (i, i + hd/2) that
// NEOX rotates: then NEOX on the new rows computes NORM on the old ones (up to
// the same permutation of q and k, which leaves q·k unchanged).
std::vector<uint8_t> permute_for_neox(const std::vector<uint8_t>& data, int64_t rows,
                                      int64_t cols, int64_t hd) {
  std::vector<uint8_t> out(data.size());
  const size_t row_bytes = static_cast<size_t>(cols) * sizeof(float);
  for (int64_t h = 0; h < rows / hd; ++h)
    for (int64_t i = 0; i < hd / 2; ++i) {
      std::memcpy(&out[(h * hd + i) * row_bytes], &data[(h * hd + 2 * i) * row_bytes], row_bytes);
      std::memcpy(&out[(h * hd + i + hd / 2) * row_bytes], &data[(h * hd + 2 * i + 1) * row_bytes],
                  row_bytes);
    }
  return out;
}

struct Qwen2Options {
  bool permute = true;
  float v_bias = 0.f;
};

std::shared_ptr<const GgufFile> make_qwen2(const GgufFile& src, const Qwen2Options& opt) {
  auto hp = read_hparams(src);
  REQUIRE(hp.is_ok());
  const ModelHparams h = hp.value();
  Rewrite rw;
  rw.rename_key = [](const std::string& k) {
    return k.rfind("llama.", 0) == 0 ? "qwen2." + k.substr(6) : k;
  };
  rw.tensor = [&](const GgufTensorInfo& t, GgmlType&, std::vector<int64_t>& dims,
                  std::vector<uint8_t>& data) {
    const bool q = t.name.find("attn_q.weight") != std::string::npos;
    const bool k = t.name.find("attn_k.weight") != std::string::npos;
    if (opt.permute && (q || k)) data = permute_for_neox(data, dims[1], dims[0], h.head_dim);
    return true;
  };
  rw.extra = [&](GgufWriter& w) {
    w.set("general.architecture", GgufValue::str("qwen2"));
    for (int64_t l = 0; l < h.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      auto add = [&](const std::string& name, int64_t n, float value) {
        std::vector<float> b(static_cast<size_t>(n), value);
        const auto* bytes = reinterpret_cast<const uint8_t*>(b.data());
        REQUIRE(w.add_tensor(p + name, GgmlType::F32, {n}, {bytes, b.size() * 4}).is_ok());
      };
      add("attn_q.bias", h.q_dim(), 0.f);
      add("attn_k.bias", h.kv_dim(), 0.f);
      add("attn_v.bias", h.kv_dim(), opt.v_bias);
    }
  };
  auto f = open_bytes(rewrite(src, rw));
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  return f.value();
}

TEST_CASE("qwen2 built from stories260K reproduces the golden story") {
  const GoldenStory g = read_golden_story();
  const auto src = open_stories();
  const auto file = make_qwen2(*src, {});
  for (int threads : {1, 2}) {
    const auto model = load_model(file, make_cpu_backend(threads));
    const ModelHparams& hp = model->hparams();
    CHECK(hp.arch == Arch::kQwen2);
    CHECK(hp.rope_neox);
    CHECK(hp.has_qkv_bias);
    CHECK(hp.n_layer == 5);
    CHECK(hp.rms_eps == doctest::Approx(1e-5));  // from qwen2.attention.layer_norm_rms_epsilon
    auto ctx = make_context(*model);
    const std::vector<int32_t> got = greedy(*ctx, {1}, 200);
    CHECK(got == std::vector<int32_t>(g.tokens.begin() + 1, g.tokens.end()));

    std::vector<float> logits(2 * 512);
    const int32_t in[2] = {1, 403};
    REQUIRE(ctx->eval(in, 0, logits.data(), true).is_ok());
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < 4; ++i)
        CHECK(std::fabs(logits[p * 512 + i] - g.pos[p].first4[i]) < 1e-4);
  }
}

TEST_CASE("qwen2: the NEOX layout and the biases matter") {
  const GoldenStory g = read_golden_story();
  const auto src = open_stories();
  const std::vector<int32_t> want(g.tokens.begin() + 1, g.tokens.begin() + 41);
  // Without the row permutation NEOX RoPE rotates the wrong pairs.
  {
    const auto model = load_model(make_qwen2(*src, {.permute = false}), make_cpu_backend(1));
    auto ctx = make_context(*model);
    CHECK(greedy(*ctx, {1}, 40) != want);
  }
  // A non-zero V bias changes the logits.
  {
    const auto plain = load_model(make_qwen2(*src, {}), make_cpu_backend(1));
    const auto biased = load_model(make_qwen2(*src, {.v_bias = 0.5f}), make_cpu_backend(1));
    auto c1 = make_context(*plain);
    auto c2 = make_context(*biased);
    std::vector<float> l1(512), l2(512);
    const int32_t in[3] = {1, 403, 407};
    REQUIRE(c1->eval(in, 0, l1.data(), false).is_ok());
    REQUIRE(c2->eval(in, 0, l2.data(), false).is_ok());
    float diff = 0;
    for (int i = 0; i < 512; ++i) diff = std::max(diff, std::fabs(l1[i] - l2[i]));
    CHECK(diff > 1e-2f);
  }
}

}  // namespace
}  // namespace scn::inference
