#include "inference/engine/generation.h"

#include <doctest/doctest.h>

#include <vector>

#include "inference/backend/backend.h"
#include "inference/model/context.h"
#include "inference/model/model.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {

// The golden greedy continuation of "Once upon a time" (../shared/golden).
const std::vector<int32_t> kOnce = {1, 403, 407, 261, 378};
const std::vector<int32_t> kOnceGreedy = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317,
                                          426, 338, 401, 396, 267, 337};

struct Fixture {
  std::unique_ptr<Model> model;
  std::unique_ptr<Context> ctx;
  Fixture() {
    auto m = Model::load(testing::shared_path("models/stories260K.gguf"), make_cpu_backend(1));
    REQUIRE_MESSAGE(m.is_ok(), m.status().to_string());
    model = std::move(m).value();
    auto c = Context::create(*model, 256);
    REQUIRE(c.is_ok());
    ctx = std::move(c).value();
  }
};

GenerateRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

std::vector<int32_t> generate(Generator& g, const GenerateRequest& req, FinishReason* finish = nullptr) {
  std::vector<int32_t> out;
  auto res = g.run(req, [&](const TokenEvent& ev) {
    out.push_back(ev.token);
    return true;
  });
  REQUIRE_MESSAGE(res.is_ok(), res.status().to_string());
  CHECK(res->completion_tokens == static_cast<int>(out.size()));
  if (finish) *finish = res->finish;
  return out;
}

}  // namespace

TEST_CASE("generator: the KV cache of a common prefix is reused") {
  Fixture f;
  Generator g(*f.ctx, [](int32_t) { return false; });
  const int n = static_cast<int>(kOnceGreedy.size());

  CHECK(generate(g, greedy(kOnce, n)) == kOnceGreedy);
  CHECK(g.last_reused_tokens() == 0);
  // The cache holds the prompt and every generated token but the last.
  std::vector<int32_t> cached = kOnce;
  cached.insert(cached.end(), kOnceGreedy.begin(), kOnceGreedy.end() - 1);
  CHECK(g.cached_tokens() == cached);
  CHECK(f.ctx->n_past() == static_cast<int32_t>(cached.size()));

  // The same prompt again: all but its last token come from the cache.
  CHECK(generate(g, greedy(kOnce, n)) == kOnceGreedy);
  CHECK(g.last_reused_tokens() == static_cast<int>(kOnce.size()) - 1);

  // A continuation of the previous exchange reuses all of it, and greedy
  // decoding continues the golden sequence.
  std::vector<int32_t> longer = kOnce;
  longer.insert(longer.end(), kOnceGreedy.begin(), kOnceGreedy.begin() + 8);
  const auto rest = generate(g, greedy(longer, n - 8));
  CHECK(g.last_reused_tokens() == static_cast<int>(longer.size()) - 1);
  CHECK(rest == std::vector<int32_t>(kOnceGreedy.begin() + 8, kOnceGreedy.end()));

  // A different prompt sharing only BOS.
  CHECK(generate(g, greedy({1, 274, 287}, 4)).size() == 4);
  CHECK(g.last_reused_tokens() == 1);
  CHECK(generate(g, greedy(kOnce, n)) == kOnceGreedy);
  CHECK(g.last_reused_tokens() == 1);
}

TEST_CASE("generator: an end-of-generation token stops without being emitted") {
  Fixture f;
  // Pretend token 426 (the 11th golden token) ends the generation.
  Generator g(*f.ctx, [](int32_t t) { return t == 426; });
  FinishReason finish = FinishReason::kLength;
  const auto out = generate(g, greedy(kOnce, 40), &finish);
  CHECK(finish == FinishReason::kStop);
  CHECK(out == std::vector<int32_t>(kOnceGreedy.begin(), kOnceGreedy.begin() + 10));

  // ignore_eos: the token is emitted and generation runs to max_tokens.
  GenerateRequest req = greedy(kOnce, static_cast<int>(kOnceGreedy.size()));
  req.ignore_eos = true;
  CHECK(generate(g, req, &finish) == kOnceGreedy);
  CHECK(finish == FinishReason::kLength);
}

TEST_CASE("generator: check() rejects bad requests without touching the cache") {
  Fixture f;
  Generator g(*f.ctx, [](int32_t) { return false; });
  CHECK(generate(g, greedy(kOnce, 3)).size() == 3);
  const auto cached = g.cached_tokens();
  struct Case {
    GenerateRequest req;
    Code code;
  };
  auto req_with = [](auto fn) {
    GenerateRequest r = greedy(kOnce, 4);
    fn(r);
    return r;
  };
  const Case cases[] = {
      {greedy({}, 4), Code::kInvalidArgument},
      {greedy({1, 600}, 4), Code::kInvalidArgument},
      {greedy(kOnce, -1), Code::kInvalidArgument},
      {req_with([](auto& r) { r.top_logprobs = -1; }), Code::kInvalidArgument},
      {req_with([](auto& r) { r.sampling.temperature = -1; }), Code::kInvalidArgument},
      {greedy(std::vector<int32_t>(256, 1), 4), Code::kTooLarge},
  };
  for (const auto& c : cases) {
    CHECK(g.check(c.req).code() == c.code);
    auto res = g.run(c.req, [](const TokenEvent&) { return true; });
    REQUIRE_FALSE(res.is_ok());
    CHECK(res.status().code() == c.code);
  }
  CHECK(g.cached_tokens() == cached);
  CHECK(g.check(greedy(std::vector<int32_t>(255, 1), 4)).is_ok());
}

}  // namespace scn::inference
