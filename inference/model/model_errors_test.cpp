// Loading broken or unsupported models gives a clear Status naming the
// problem (small bad GGUFs written with GgufWriter from stories260K), and the
// hyperparameters read from metadata honour every documented key.
#include <doctest/doctest.h>

#include <cstring>

#include "inference/model/model_test_util.h"

namespace scn::inference {
namespace {

using namespace model_test;

// stories260K with one metadata value replaced (or dropped when empty) and
// optionally one tensor dropped or replaced.
struct Edit {
  std::string key = {};                 // metadata key to change
  std::optional<GgufValue> value = {};  // new value; nullopt drops the key
  std::string drop_tensor = {};         // tensor to leave out
  std::string reshape_tensor = {};      // tensor to replace by zeros of new_dims
  std::vector<int64_t> new_dims = {};
  GgmlType new_type = GgmlType::F32;
};

std::shared_ptr<const GgufFile> edited(const GgufFile& src, const Edit& e) {
  Rewrite rw;
  rw.rename_key = [&](const std::string& k) { return k == e.key && !e.value ? "" : k; };
  rw.tensor = [&](const GgufTensorInfo& t, GgmlType& type, std::vector<int64_t>& dims,
                  std::vector<uint8_t>& data) {
    if (t.name == e.drop_tensor) return false;
    if (t.name == e.reshape_tensor) {
      type = e.new_type;
      dims = e.new_dims;
      int64_t rows = 1;
      for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
      data.assign(rows * row_size(type, dims[0]), 0);
    }
    return true;
  };
  rw.extra = [&](GgufWriter& w) {
    if (!e.key.empty() && e.value) w.set(e.key, *e.value);
  };
  auto f = open_bytes(rewrite(src, rw));
  REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
  return f.value();
}

struct ErrorCase {
  const char* what;
  Edit edit;
  const char* message_part;  // the error must name this
};

TEST_CASE("bad models give kUnprocessable naming the problem") {
  const auto src = open_stories();
  const ErrorCase cases[] = {
      {"missing tensor", {.drop_tensor = "blk.2.ffn_up.weight"}, "blk.2.ffn_up.weight"},
      {"missing norm", {.drop_tensor = "output_norm.weight"}, "output_norm.weight"},
      {"missing embeddings", {.drop_tensor = "token_embd.weight"}, "token_embd.weight"},
      {"wrong shape", {.reshape_tensor = "blk.1.attn_k.weight", .new_dims = {64, 64}},
       "blk.1.attn_k.weight' has shape [64, 64], expected [64, 32]"},
      {"wrong norm shape", {.reshape_tensor = "blk.0.ffn_norm.weight", .new_dims = {32}},
       "blk.0.ffn_norm.weight"},
      {"3-D tensor", {.reshape_tensor = "blk.0.attn_q.weight", .new_dims = {64, 32, 2}},
       "blk.0.attn_q.weight"},
      {"quantized norm", {.reshape_tensor = "blk.3.attn_norm.weight", .new_dims = {64},
                          .new_type = GgmlType::Q8_0}, "blk.3.attn_norm.weight"},
      {"unsupported architecture", {.key = "general.architecture", .value = GgufValue::str("gemma")},
       "unsupported model architecture 'gemma'"},
      {"no architecture", {.key = "general.architecture"}, "general.architecture"},
      {"missing hparam", {.key = "llama.block_count"}, "llama.block_count"},
      {"zero hparam", {.key = "llama.embedding_length", .value = GgufValue::u32(0)},
       "llama.embedding_length"},
      {"string hparam", {.key = "llama.feed_forward_length", .value = GgufValue::str("172")},
       "llama.feed_forward_length"},
      {"GQA mismatch", {.key = "llama.attention.head_count_kv", .value = GgufValue::u32(3)},
       "head_count_kv"},
      {"odd rope dims", {.key = "llama.rope.dimension_count", .value = GgufValue::u32(7)},
       "rope.dimension_count"},
      {"rope dims past head", {.key = "llama.rope.dimension_count", .value = GgufValue::u32(16)},
       "rope.dimension_count"},
      {"negative eps", {.key = "llama.attention.layer_norm_rms_epsilon", .value = GgufValue::f32(-1)},
       "layer_norm_rms_epsilon"},
      {"yarn scaling", {.key = "llama.rope.scaling.type", .value = GgufValue::str("yarn")},
       "rope scaling type 'yarn'"},
      {"per-layer head counts",
       {.key = "llama.attention.head_count_kv",
        .value = GgufValue::array(GgufArray::of_ints(GgufValueType::UINT32, {4, 4, 4, 4, 4}))},
       "per-layer"},
  };
  for (const ErrorCase& c : cases) {
    INFO(c.what);
    auto m = Model::load(edited(*src, c.edit), make_cpu_backend(1));
    REQUIRE_FALSE(m.is_ok());
    CHECK(m.status().code() == Code::kUnprocessable);
    INFO("message: " << m.status().message());
    CHECK(m.status().message().find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("qwen2 requires its q/k/v biases") {
  const auto src = open_stories();
  Rewrite rw;
  rw.rename_key = [](const std::string& k) {
    return k.rfind("llama.", 0) == 0 ? "qwen2." + k.substr(6) : k;
  };
  rw.extra = [](GgufWriter& w) { w.set("general.architecture", GgufValue::str("qwen2")); };
  auto f = open_bytes(rewrite(*src, rw));
  REQUIRE(f.is_ok());
  auto m = Model::load(f.value(), make_cpu_backend(1));
  REQUIRE_FALSE(m.is_ok());
  CHECK(m.status().code() == Code::kUnprocessable);
  CHECK(m.status().message().find("blk.0.attn_q.bias") != std::string::npos);
}

TEST_CASE("a missing file is an I/O error, a null backend an invalid argument") {
  auto m = Model::load("/nonexistent/model.gguf", make_cpu_backend(1));
  CHECK(m.status().code() == Code::kIoError);
  auto n = Model::load(open_stories(), nullptr);
  CHECK(n.status().code() == Code::kInvalidArgument);
}

TEST_CASE("hyperparameters: defaults, rope scaling and overrides") {
  const auto src = open_stories();
  {
    auto hp = read_hparams(*src);
    REQUIRE(hp.is_ok());
    CHECK(hp->arch_name == "llama");
    CHECK(hp->n_embd == 64);
    CHECK(hp->n_layer == 5);
    CHECK(hp->n_head == 8);
    CHECK(hp->n_head_kv == 4);
    CHECK(hp->head_dim == 8);
    CHECK(hp->n_ff == 172);
    CHECK(hp->n_vocab == 512);
    CHECK(hp->n_ctx_train == 2048);
    CHECK(hp->n_rot == 8);
    CHECK(hp->rms_eps == doctest::Approx(1e-5));
    CHECK(hp->rope_freq_base == 10000.f);
    CHECK(hp->rope_freq_scale == 1.f);
    CHECK_FALSE(hp->rope_neox);
    CHECK_FALSE(hp->tied_embeddings);
  }
  struct Case { Edit edit; float freq_scale, freq_base; };
  const Case cases[] = {
      {{.key = "llama.rope.scaling.factor", .value = GgufValue::f32(4)}, 0.25f, 10000.f},
      {{.key = "llama.rope.scale_linear", .value = GgufValue::f32(2)}, 0.5f, 10000.f},
      {{.key = "llama.rope.scaling.type", .value = GgufValue::str("none")}, 1.f, 10000.f},
      {{.key = "llama.rope.freq_base", .value = GgufValue::f32(1e6f)}, 1.f, 1e6f},
  };
  for (const Case& c : cases) {
    INFO(c.edit.key);
    auto hp = read_hparams(*edited(*src, c.edit));
    REQUIRE_MESSAGE(hp.is_ok(), hp.status().to_string());
    CHECK(hp->rope_freq_scale == doctest::Approx(c.freq_scale));
    CHECK(hp->rope_freq_base == doctest::Approx(c.freq_base));
  }
}

TEST_CASE("rope_freqs.weight divides the RoPE angles (Llama 3.1 style)") {
  const auto src = open_stories();
  // Factors of 2 everywhere turn every angle like linear scaling by 2.
  Rewrite rw;
  rw.extra = [](GgufWriter& w) {
    const std::vector<float> twos(4, 2.0f);  // n_rot / 2
    REQUIRE(w.add_tensor("rope_freqs.weight", GgmlType::F32, {4},
                         {reinterpret_cast<const uint8_t*>(twos.data()), 16}).is_ok());
  };
  auto with_freqs = open_bytes(rewrite(*src, rw));
  REQUIRE(with_freqs.is_ok());
  const auto a = load_model(with_freqs.value(), make_cpu_backend(1));
  const auto b = load_model(edited(*src, {.key = "llama.rope.scaling.factor", .value = GgufValue::f32(2)}),
                            make_cpu_backend(1));
  const auto plain = load_model(src, make_cpu_backend(1));
  REQUIRE(a->rope_freqs() != nullptr);
  CHECK(plain->rope_freqs() == nullptr);
  const int32_t in[6] = {1, 403, 407, 261, 378, 432};
  std::vector<float> la(512), lb(512), lp(512);
  REQUIRE(make_context(*a)->eval(in, 0, la.data(), false).is_ok());
  REQUIRE(make_context(*b)->eval(in, 0, lb.data(), false).is_ok());
  REQUIRE(make_context(*plain)->eval(in, 0, lp.data(), false).is_ok());
  float diff_ab = 0, diff_plain = 0;
  for (int i = 0; i < 512; ++i) {
    diff_ab = std::max(diff_ab, std::fabs(la[i] - lb[i]));
    diff_plain = std::max(diff_plain, std::fabs(la[i] - lp[i]));
  }
  CHECK(diff_ab < 1e-4f);
  CHECK(diff_plain > 1e-3f);
  // Wrong length: named.
  Rewrite bad;
  bad.extra = [](GgufWriter& w) {
    const std::vector<float> ones(3, 1.0f);
    REQUIRE(w.add_tensor("rope_freqs.weight", GgmlType::F32, {3},
                         {reinterpret_cast<const uint8_t*>(ones.data()), 12}).is_ok());
  };
  auto bad_file = open_bytes(rewrite(*src, bad));
  REQUIRE(bad_file.is_ok());
  auto m = Model::load(bad_file.value(), make_cpu_backend(1));
  CHECK(m.status().code() == Code::kUnprocessable);
  CHECK(m.status().message().find("rope_freqs.weight") != std::string::npos);
}

TEST_CASE("tied embeddings: without output.weight the embedding matrix projects") {
  const auto src = open_stories();
  // Replace output.weight by a copy of token_embd.weight, then drop it: both
  // models must produce the same logits.
  const GgufTensorInfo* embd = src->find_tensor("token_embd.weight");
  REQUIRE(embd);
  Rewrite copy;
  copy.tensor = [&](const GgufTensorInfo& t, GgmlType&, std::vector<int64_t>&,
                    std::vector<uint8_t>& data) {
    if (t.name == "output.weight") data.assign(embd->data, embd->data + embd->nbytes);
    return true;
  };
  auto explicit_file = open_bytes(rewrite(*src, copy));
  REQUIRE(explicit_file.is_ok());
  const auto tied_file = edited(*src, {.drop_tensor = "output.weight"});
  const auto a = load_model(explicit_file.value(), make_cpu_backend(1));
  const auto b = load_model(tied_file, make_cpu_backend(1));
  CHECK_FALSE(a->hparams().tied_embeddings);
  CHECK(b->hparams().tied_embeddings);
  CHECK(&b->output() == &b->token_embd());
  auto ca = make_context(*a);
  auto cb = make_context(*b);
  std::vector<float> la(512), lb(512);
  const int32_t in[3] = {1, 403, 407};
  REQUIRE(ca->eval(in, 0, la.data(), false).is_ok());
  REQUIRE(cb->eval(in, 0, lb.data(), false).is_ok());
  CHECK(la == lb);
}

}  // namespace
}  // namespace scn::inference
