// stories260K against the reference outputs in ../shared/golden: the
// llama2.c greedy story and first logits, and llama.cpp's prompt tokens,
// greedy continuations and top-5 log-probabilities. Run on the CPU backend
// (1 and 2 threads) and on the scalar reference backend.
#include <doctest/doctest.h>

#include "inference/backend/cpu/quants.h"
#include "inference/backend/forwarding_backend.h"
#include "inference/backend/reference.h"
#include "inference/model/model_test_util.h"
#include "inference/tokenizer/vocab.h"

namespace scn::inference {
namespace {

using namespace model_test;

struct NamedBackend {
  std::string name;
  std::shared_ptr<Backend> backend;
};

std::vector<NamedBackend> backends() {
  return {{"cpu/1", make_cpu_backend(1)},
          {"cpu/2", make_cpu_backend(2)},
          {"reference", make_reference_backend()}};
}

TEST_CASE("stories260K: greedy story from BOS and first logits equal llama2.c's") {
  const GoldenStory g = read_golden_story();
  const auto file = open_stories();
  for (const NamedBackend& b : backends()) {
    INFO("backend " << b.name);
    const auto model = load_model(file, b.backend);
    CHECK(model->hparams().n_vocab == 512);
    CHECK(model->hparams().n_head_kv == 4);
    auto ctx = make_context(*model);

    const std::vector<int32_t> got = greedy(*ctx, {1}, 200);
    const std::vector<int32_t> want(g.tokens.begin() + 1, g.tokens.end());
    CHECK(got == want);
    CHECK(ctx->n_past() == 200);

    // Logits at positions 0 (BOS) and 1 (token 403), in one batch.
    std::vector<float> logits(2 * 512);
    const int32_t in[2] = {1, 403};
    REQUIRE(ctx->eval(in, 0, logits.data(), true).is_ok());
    for (int p = 0; p < 2; ++p) {
      const float* l = logits.data() + p * 512;
      CHECK(argmax(l, 512) == g.pos[p].argmax);
      CHECK(std::fabs(l[g.pos[p].argmax] - g.pos[p].max_logit) < 1e-4);
      for (int i = 0; i < 4; ++i) CHECK(std::fabs(l[i] - g.pos[p].first4[i]) < 1e-4);
    }
  }
}

// Where the golden logprobs come from. llama.cpp computed them with flash
// attention over an F16 K/V cache: K, V and Q rounded to F16 and the
// softmax-weighted sum of V accumulated in F16 (ggml's CPU
// flash_attn_ext_f16, online softmax). That rounding makes its logprobs
// noisy by up to ~1.6e-2 compared with exact arithmetic, and the noise
// depends on the last bits of every earlier result, so no float32 engine
// reproduces it to 1e-3 at every step. This backend wraps another one and
// computes attention the way ggml does, to show that the rest of the forward
// pass is llama.cpp's: over the scalar reference backend (deterministic sums)
// the mean error drops from 1.5e-3 to 3e-4 and the first step of every
// prompt agrees within 1e-3 (with our AVX-512 matmul, by chance, within 5e-6).
class LlamaCppFlashAttention final : public ForwardingBackend {
 public:
  explicit LlamaCppFlashAttention(std::unique_ptr<Backend> inner)
      : ForwardingBackend(std::move(inner)) {}
  std::string_view name() const override { return "llama.cpp-flash-attention"; }

  void attention(const float* q, const float* k, const float* v, float* out,
                 const AttentionParams& p) override {
    const int64_t hd = p.head_dim, rep = p.n_heads / p.n_kv_heads;
    std::vector<float> acc(static_cast<size_t>(hd));
    for (int64_t t = 0; t < p.n_tokens; ++t)
      for (int64_t h = 0; h < p.n_heads; ++h) {
        const float* qh = q + (t * p.n_heads + h) * hd;
        const int64_t g = h / rep;
        std::fill(acc.begin(), acc.end(), 0.f);
        float m = -INFINITY, sum = 0;
        for (int64_t j = 0; j <= p.pos0 + t; ++j) {
          const float* kj = k + j * p.kv_stride + g * hd;
          const float* vj = v + j * p.kv_stride + g * hd;
          double dot = 0;  // ggml_vec_dot_f16: F16 operands, sum in double
          for (int64_t c = 0; c < hd; ++c) dot += static_cast<double>(f16(qh[c]) * f16(kj[c]));
          const float s = static_cast<float>(dot) * p.scale;
          float ms = 1, vs = 1;
          if (s > m) {  // new maximum: rescale the F16 accumulator
            ms = std::exp(m - s);
            m = s;
            for (float& a : acc) a = f16(a * ms);
          } else {
            vs = std::exp(s - m);
          }
          for (int64_t c = 0; c < hd; ++c) acc[c] = f16(std::fma(f16(vj[c]), vs, acc[c]));
          sum = std::fma(sum, ms, vs);
        }
        float* o = out + (t * p.n_heads + h) * hd;
        const float inv = 1.0f / sum;
        for (int64_t c = 0; c < hd; ++c) o[c] = acc[c] * inv;
      }
  }

 private:
  static float f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }
};

// Our logprobs against the golden top-5 of one step. Every golden
// candidate's logprob within tol, and our ranking equal to the golden one
// wherever the golden gaps exceed 2 * tol (not ties within the noise).
// Returns the largest error and adds the errors to *sum, *count.
double check_top5(const std::vector<double>& lsm, const std::vector<std::pair<int32_t, double>>& want,
                  double tol, int step, double* sum, int* count) {
  std::vector<int32_t> order(lsm.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::partial_sort(order.begin(), order.begin() + 6, order.end(), [&](int32_t a, int32_t b) {
    return lsm[a] != lsm[b] ? lsm[a] > lsm[b] : a < b;
  });
  double worst = 0;
  for (size_t r = 0; r < want.size(); ++r) {
    const auto [id, lp] = want[r];
    INFO("step " << step << " rank " << r << " id " << id << " golden " << lp << " ours " << lsm[id]);
    const double err = std::fabs(lsm[id] - lp);
    worst = std::max(worst, err);
    *sum += err;
    ++*count;
    CHECK(err <= tol);
    const double prev = r > 0 ? want[r - 1].second : INFINITY;
    const double next = r + 1 < want.size() ? want[r + 1].second : lsm[order[want.size()]];
    if (prev - lp > 2 * tol && lp - next > 2 * tol) CHECK(order[r] == id);
  }
  return worst;
}

// Runs every golden prompt on `backend`: prompt tokens, the 48 greedy tokens
// and the top-5 logprobs (each within tol, first step within first_tol, mean
// error at most mean_tol).
void run_golden_prompts(const std::string& name, std::shared_ptr<Backend> backend, double tol,
                        double first_tol, double mean_tol) {
  const auto file = open_stories();
  auto vocab = Vocab::from_gguf(*file);
  REQUIRE_MESSAGE(vocab.is_ok(), vocab.status().to_string());
  const auto golden = read_golden_prompts();
  const auto model = load_model(file, std::move(backend));
  auto ctx = make_context(*model);
  double sum = 0, worst = 0, worst_first = 0;
  int count = 0;
  for (const GoldenPrompt& p : golden) {
    INFO("backend " << name << ", prompt '" << p.prompt << "'");
    CHECK(vocab.value()->tokenize(p.prompt, true, false) == p.tokens);
    std::vector<std::vector<float>> steps;
    CHECK(greedy(*ctx, p.tokens, 48, &steps) == p.greedy);
    REQUIRE(steps.size() == p.top5.size());
    for (size_t s = 0; s < steps.size(); ++s) {
      const double w = check_top5(log_softmax(steps[s].data(), 512), p.top5[s],
                                  s == 0 ? first_tol : tol, static_cast<int>(s), &sum, &count);
      worst = std::max(worst, w);
      if (s == 0) worst_first = std::max(worst_first, w);
    }
  }
  const double mean = sum / count;
  MESSAGE(name << ": top-5 logprob error vs llama.cpp: mean " << mean << ", largest "
               << worst << ", largest at the first step " << worst_first);
  CHECK(mean <= mean_tol);
}

// The engine's path: the batched forward pass over the paged KV pool, the
// token chosen by the backend's arg-max (what tests/gpu runs on CUDA).
TEST_CASE("stories260K: greedy through BatchContext with the backend's arg-max equals the golden") {
  const GoldenStory g = read_golden_story();
  const auto file = open_stories();
  for (const NamedBackend& b : backends()) {
    INFO("backend " << b.name);
    const auto model = load_model(file, b.backend);
    std::vector<float> first;
    const std::vector<int32_t> story = greedy_batched(*model, {1}, 200, 64, &first);
    CHECK(story == std::vector<int32_t>(g.tokens.begin() + 1, g.tokens.end()));
    CHECK(argmax(first.data(), 512) == g.pos[0].argmax);
    for (int i = 0; i < 4; ++i) CHECK(std::fabs(first[i] - g.pos[0].first4[i]) < 1e-4);
    for (const GoldenPrompt& p : read_golden_prompts()) {
      INFO("prompt '" << p.prompt << "'");
      CHECK(greedy_batched(*model, p.tokens, 48, 3) == p.greedy);  // prompts in chunks of 3
    }
  }
}

TEST_CASE("stories260K: prompt tokens via the vocab equal the golden ones") {
  const auto file = open_stories();
  auto vocab = Vocab::from_gguf(*file);
  REQUIRE(vocab.is_ok());
  CHECK(vocab.value()->tokenize("Once upon a time", true, false) == read_golden_story().prompt_tokens);
}

// Float32 attention against llama.cpp's F16 flash attention: the greedy
// tokens are equal; the logprobs differ by llama.cpp's F16 noise (measured
// on our engine: mean 1.5e-3, 99th percentile 7.7e-3, largest 1.6e-2).
TEST_CASE("stories260K: prompts, greedy tokens and top-5 logprobs agree with llama.cpp") {
  for (const NamedBackend& b : backends()) run_golden_prompts(b.name, b.backend, 2e-2, 2e-2, 2.5e-3);
}

// With llama.cpp's attention arithmetic the rest of the pass is llama.cpp's
// (measured: first step within 1.0e-3, mean 3.0e-4, largest 3.6e-3).
TEST_CASE("stories260K: with llama.cpp's F16 flash attention the logprobs match closely") {
  run_golden_prompts("reference+llama.cpp-attention",
                     std::make_shared<LlamaCppFlashAttention>(make_reference_backend()), 5e-3, 1.5e-3,
                     5e-4);
}

}  // namespace
}  // namespace scn::inference
