// Context::eval semantics: batching and chunking give the logits of
// one-token decoding, truncate() and re-evaluation from the middle, no
// logits when none are asked for, and argument errors that change nothing.
#include <doctest/doctest.h>

#include "inference/model/model_test_util.h"

namespace scn::inference {
namespace {

using namespace model_test;

// The first n tokens of the golden story.
std::vector<int32_t> story(size_t n) {
  const auto t = read_golden_story().tokens;
  return {t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n)};
}

// All logits [n][512] of a sequence fed one token per eval.
std::vector<float> one_by_one(Context& ctx, const std::vector<int32_t>& seq) {
  std::vector<float> all(seq.size() * 512);
  for (size_t i = 0; i < seq.size(); ++i)
    REQUIRE(ctx.eval({&seq[i], 1}, static_cast<int32_t>(i), &all[i * 512], false).is_ok());
  return all;
}

void check_near(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  INFO("largest difference " << worst);
  CHECK(worst <= tol);
}

TEST_CASE("a batch, chunks of any size and single tokens give the same logits") {
  const auto model = load_model(open_stories(), make_cpu_backend(1));
  const auto seq = story(70);
  auto ref_ctx = make_context(*model);
  const std::vector<float> want = one_by_one(*ref_ctx, seq);
  for (int32_t n_batch : {1, 3, 16, 64, 512}) {
    INFO("n_batch " << n_batch);
    auto ctx = make_context(*model, 0, n_batch);
    std::vector<float> all(seq.size() * 512);
    REQUIRE(ctx->eval(seq, 0, all.data(), true).is_ok());
    check_near(all, want, 1e-4f);
    // Only the last row when all_logits is false.
    std::vector<float> last(512);
    REQUIRE(ctx->eval(seq, 0, last.data(), false).is_ok());
    check_near(last, std::vector<float>(want.end() - 512, want.end()), 1e-4f);
    CHECK(ctx->n_past() == 70);
  }
}

TEST_CASE("prefill without logits, then continue; truncate and re-evaluate") {
  const auto model = load_model(open_stories(), make_cpu_backend(1));
  const auto seq = story(40);
  auto ref_ctx = make_context(*model);
  const std::vector<float> want = one_by_one(*ref_ctx, seq);

  auto ctx = make_context(*model);
  REQUIRE(ctx->eval({seq.data(), 30}, 0, nullptr, false).is_ok());
  CHECK(ctx->n_past() == 30);
  std::vector<float> rest(10 * 512);
  REQUIRE(ctx->eval({seq.data() + 30, 10}, 30, rest.data(), true).is_ok());
  check_near(rest, std::vector<float>(want.begin() + 30 * 512, want.end()), 1e-4f);

  // Replace the tail after position 20 by other tokens: the logits are those
  // of a fresh context fed the edited sequence.
  auto edited = seq;
  for (size_t i = 20; i < edited.size(); ++i) edited[i] = 300 + static_cast<int32_t>(i);
  auto fresh = make_context(*model);
  const std::vector<float> want_edited = one_by_one(*fresh, edited);
  ctx->truncate(20);
  CHECK(ctx->n_past() == 20);
  std::vector<float> got(20 * 512);
  REQUIRE(ctx->eval({edited.data() + 20, 20}, 20, got.data(), true).is_ok());
  check_near(got, std::vector<float>(want_edited.begin() + 20 * 512, want_edited.end()), 1e-4f);

  // eval at pos0 < n_past discards the later positions itself.
  REQUIRE(ctx->eval({seq.data() + 20, 20}, 20, got.data(), true).is_ok());
  check_near(got, std::vector<float>(want.begin() + 20 * 512, want.end()), 1e-4f);
  ctx->truncate(1000);  // clamped to n_past
  CHECK(ctx->n_past() == 40);
  ctx->truncate(-5);
  CHECK(ctx->n_past() == 0);
}

TEST_CASE("context size, and eval errors that leave the context unchanged") {
  const auto model = load_model(open_stories(), make_cpu_backend(1));
  CHECK(make_context(*model)->n_ctx() == 2048);  // llama.context_length
  auto ctx = make_context(*model, 16, 4);
  CHECK(ctx->n_ctx() == 16);
  CHECK(ctx->n_batch() == 4);
  CHECK(ctx->n_vocab() == 512);
  CHECK(ctx->kv_bytes() == 2u * 5 * 16 * 32 * sizeof(float));
  const auto seq = story(10);
  std::vector<float> logits(16 * 512);
  REQUIRE(ctx->eval(seq, 0, logits.data(), false).is_ok());

  struct Bad {
    const char* what;
    std::vector<int32_t> tokens;
    int32_t pos0;
    Code code;
  };
  const Bad cases[] = {
      {"no tokens", {}, 10, Code::kInvalidArgument},
      {"negative id", {1, -1}, 10, Code::kInvalidArgument},
      {"id past the vocabulary", {512}, 10, Code::kInvalidArgument},
      {"position after n_past", {1}, 11, Code::kInvalidArgument},
      {"negative position", {1}, -1, Code::kInvalidArgument},
      {"past the context", {1, 2, 3, 4, 5, 6, 7}, 10, Code::kTooLarge},
  };
  for (const Bad& b : cases) {
    INFO(b.what);
    const Status st = ctx->eval(b.tokens, b.pos0, logits.data(), false);
    CHECK(st.code() == b.code);
    CHECK(ctx->n_past() == 10);
  }
  CHECK(ctx->eval(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, 10, logits.data(), false).is_ok());  // fills it
  CHECK(ctx->n_past() == 16);
  CHECK(Context::create(*model, 0, 0).status().code() == Code::kInvalidArgument);
  CHECK(Context::create(*model, 1 << 21).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace scn::inference
