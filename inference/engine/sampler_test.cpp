#include "inference/engine/sampler.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace scn::inference {
namespace {

std::vector<float> log_of(const std::vector<float>& probs) {
  std::vector<float> out;
  for (float p : probs) out.push_back(std::log(p));
  return out;
}

std::vector<float> random_logits(int n, uint32_t seed, float scale = 4.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

std::set<int32_t> kept_ids(Sampler& s, const std::vector<float>& logits) {
  std::set<int32_t> ids;
  double sum = 0;
  for (const auto& c : s.candidates(logits.data())) {
    ids.insert(c.id);
    sum += c.p;
  }
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
  return ids;
}

SamplingParams sampling(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.seed = 42;
  return p;
}

}  // namespace

TEST_CASE("greedy picks the arg-max, lowest id on ties") {
  struct Case {
    std::vector<float> logits;
    int32_t want;
  };
  const Case cases[] = {
      {{0.f, 1.f, 2.f, 3.f}, 3},
      {{5.f, 1.f, 2.f, 3.f}, 0},
      {{-5.f, -1.f, -2.f, -3.f}, 1},
      {{1.f, 7.f, 7.f, 2.f}, 1},
      {{-INFINITY, -INFINITY, 0.5f}, 2},
      {{NAN, 1.f, 0.f}, 1},
  };
  for (const auto& c : cases) {
    Sampler s(sampling(0.f), static_cast<int32_t>(c.logits.size()));
    CHECK(s.sample(c.logits.data()) == c.want);
  }
}

TEST_CASE("top_k = 1 equals greedy at any temperature") {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const auto logits = random_logits(1000, seed);
    const int32_t argmax = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    auto p = sampling(1.5f);
    p.top_k = 1;
    p.seed = seed;
    Sampler s(p, 1000);
    CHECK(s.sample(logits.data()) == argmax);
  }
}

TEST_CASE("top_k keeps exactly the k best") {
  const auto logits = random_logits(3000, 7);
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  for (int k : {2, 10, 100, 2999}) {
    auto p = sampling(1.f);
    p.top_k = k;
    Sampler s(p, 3000);
    CHECK(kept_ids(s, logits) == std::set<int32_t>(order.begin(), order.begin() + k));
  }
}

TEST_CASE("top_p keeps the smallest head whose mass reaches p") {
  const auto logits = log_of({0.15f, 0.5f, 0.05f, 0.3f});  // order: 1, 3, 0, 2
  struct Case {
    float top_p;
    std::set<int32_t> want;
  };
  const Case cases[] = {
      {0.4f, {1}}, {0.5f, {1}}, {0.75f, {1, 3}}, {0.9f, {1, 3, 0}}, {0.99f, {0, 1, 2, 3}},
      {1.0f, {0, 1, 2, 3}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.top_p);
    auto p = sampling(1.f);
    p.top_p = c.top_p;
    Sampler s(p, 4);
    CHECK(kept_ids(s, logits) == c.want);
  }
}

TEST_CASE("top_p over a large vocabulary matches a full sort") {
  const int n = 20000;
  for (uint32_t seed : {1u, 2u, 3u}) {
    for (float top_p : {0.1f, 0.5f, 0.9f, 0.999f}) {
      CAPTURE(seed);
      CAPTURE(top_p);
      const auto logits = random_logits(n, seed, 3.f);
      std::vector<int32_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
      double z = 0;
      for (float l : logits) z += std::exp(static_cast<double>(l) - logits[order[0]]);
      double cum = 0;
      size_t keep = 0;
      while (keep < order.size()) {
        cum += std::exp(static_cast<double>(logits[order[keep]]) - logits[order[0]]) / z;
        ++keep;
        if (cum >= top_p) break;
      }
      auto p = sampling(1.f);
      p.top_p = top_p;
      Sampler s(p, n);
      CHECK(kept_ids(s, logits) == std::set<int32_t>(order.begin(), order.begin() + keep));
    }
  }
}

TEST_CASE("min_p drops tokens below min_p times the best probability") {
  const auto logits = log_of({0.5f, 0.3f, 0.15f, 0.05f});
  struct Case {
    float min_p;
    std::set<int32_t> want;
  };
  const Case cases[] = {
      {0.05f, {0, 1, 2, 3}}, {0.2f, {0, 1, 2}}, {0.5f, {0, 1}}, {0.7f, {0}}, {1.0f, {0}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.min_p);
    auto p = sampling(1.f);
    p.min_p = c.min_p;
    Sampler s(p, 4);
    CHECK(kept_ids(s, logits) == c.want);
  }
}

TEST_CASE("temperature sharpens or flattens the kept distribution") {
  const auto logits = log_of({0.5f, 0.3f, 0.2f});
  auto probs = [&](float t) {
    Sampler s(sampling(t), 3);
    std::vector<float> p(3);
    for (const auto& c : s.candidates(logits.data())) p[c.id] = c.p;
    return p;
  };
  CHECK(probs(1.f)[0] == doctest::Approx(0.5f));
  CHECK(probs(1.f)[2] == doctest::Approx(0.2f));
  CHECK(probs(0.5f)[0] == doctest::Approx(0.25f / (0.25f + 0.09f + 0.04f)));
  CHECK(probs(2.f)[0] < 0.5f);
}

TEST_CASE("repetition penalty divides positive and multiplies negative logits") {
  struct Case {
    std::vector<int32_t> context;
    int last_n;
    std::vector<float> want;
  };
  const std::vector<float> logits = {1.f, 2.f, -1.f, -2.f, 0.5f};
  const Case cases[] = {
      {{1, 3}, 64, {1.f, 1.f, -1.f, -4.f, 0.5f}},
      {{1, 1, 1, 3}, 64, {1.f, 1.f, -1.f, -4.f, 0.5f}},  // once per distinct token
      {{3, 1, 4}, 2, {1.f, 1.f, -1.f, -2.f, 0.25f}},     // window: the last 2 tokens
      {{3, 1, 4}, -1, {1.f, 1.f, -1.f, -4.f, 0.25f}},    // -1: the whole context
      {{3, 1, 4}, 0, {1.f, 2.f, -1.f, -2.f, 0.5f}},      // 0: off
  };
  for (const auto& c : cases) {
    auto p = sampling(1.f);
    p.repeat_penalty = 2.f;
    p.repeat_last_n = c.last_n;
    Sampler s(p, 5);
    s.add_context(c.context);
    auto l = logits;
    s.apply_penalties(l.data());
    for (size_t i = 0; i < l.size(); ++i) CHECK(l[i] == doctest::Approx(c.want[i]));
  }
}

TEST_CASE("frequency and presence penalties count generated tokens only") {
  auto p = sampling(1.f);
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  Sampler s(p, 5);
  const int32_t prompt[] = {0, 0, 1};
  s.add_context(prompt);  // the prompt does not count
  s.accept(2);
  s.accept(2);
  s.accept(4);
  std::vector<float> l = {1.f, 1.f, 1.f, 1.f, 1.f};
  s.apply_penalties(l.data());
  const std::vector<float> want = {1.f, 1.f, 1.f - 1.25f, 1.f, 1.f - 0.75f};
  for (size_t i = 0; i < l.size(); ++i) CHECK(l[i] == doctest::Approx(want[i]));
}

TEST_CASE("penalties steer greedy away from repeated tokens") {
  const std::vector<float> logits = {3.f, 2.9f, 0.f};
  auto p = sampling(0.f);
  p.presence_penalty = 0.5f;
  Sampler s(p, 3);
  CHECK(s.sample(logits.data()) == 0);
  s.accept(0);
  CHECK(s.sample(logits.data()) == 1);
}

TEST_CASE("the same seed gives the same tokens, different seeds differ") {
  const int n = 500;
  auto run = [&](std::optional<uint64_t> seed) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_p = 0.95f;
    p.seed = seed;
    Sampler s(p, n);
    std::vector<int32_t> out;
    for (uint32_t step = 0; step < 64; ++step) {
      const auto logits = random_logits(n, step, 1.f);
      out.push_back(s.sample(logits.data()));
      s.accept(out.back());
    }
    return out;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
  CHECK(run(123456789) == run(123456789));
  CHECK(run(std::nullopt) != run(std::nullopt));

  SamplingParams p;
  Sampler a(p, 10), b(p, 10);
  CHECK(a.seed() != b.seed());  // no seed: a random one each time
}

TEST_CASE("draws follow the candidate probabilities") {
  const std::vector<float> probs = {0.5f, 0.3f, 0.15f, 0.05f};
  const auto logits = log_of(probs);
  Sampler s(sampling(1.f), 4);
  std::vector<int> count(4);
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++count[s.sample(logits.data())];
  for (size_t i = 0; i < probs.size(); ++i)
    CHECK(static_cast<double>(count[i]) / draws == doctest::Approx(probs[i]).epsilon(0.05));
}

TEST_CASE("logprobs are the normalised log-softmax of the raw logits") {
  const int n = 1000;
  const auto logits = random_logits(n, 99);
  const auto all = compute_logprobs(logits, 17, n);
  REQUIRE(all.top.size() == static_cast<size_t>(n));
  double sum = 0;
  for (const auto& t : all.top) sum += std::exp(static_cast<double>(t.logprob));
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
  for (size_t i = 1; i < all.top.size(); ++i) CHECK(all.top[i - 1].logprob >= all.top[i].logprob);
  CHECK(all.top[0].token ==
        std::max_element(logits.begin(), logits.end()) - logits.begin());
  for (const auto& t : all.top)
    if (t.token == 17) CHECK(t.logprob == all.chosen);
  CHECK(all.chosen < 0.f);

  // Shift invariance, and the top-N list is the head of the full list.
  auto shifted = logits;
  for (float& l : shifted) l += 100.f;
  const auto top5 = compute_logprobs(shifted, 17, 5);
  REQUIRE(top5.top.size() == 5);
  CHECK(top5.chosen == doctest::Approx(all.chosen).epsilon(1e-4));
  for (size_t i = 0; i < 5; ++i) {
    CHECK(top5.top[i].token == all.top[i].token);
    CHECK(top5.top[i].logprob == doctest::Approx(all.top[i].logprob).epsilon(1e-4));
  }

  // A known case: two equal logits -> log(1/2) each.
  const std::vector<float> two = {3.f, 3.f};
  const auto half = compute_logprobs(two, 1, 20);
  CHECK(half.chosen == doctest::Approx(std::log(0.5f)));
  REQUIRE(half.top.size() == 2);
  CHECK(half.top[0].token == 0);
  CHECK(compute_logprobs(two, 0, 0).top.empty());
}

TEST_CASE("validate_sampling rejects values out of range") {
  struct Case {
    SamplingParams p;
    bool ok;
  };
  auto with = [](auto f) {
    SamplingParams p;
    f(p);
    return p;
  };
  const Case cases[] = {
      {SamplingParams{}, true},
      {with([](auto& p) { p.temperature = 0; }), true},
      {with([](auto& p) { p.temperature = -0.1f; }), false},
      {with([](auto& p) { p.temperature = NAN; }), false},
      {with([](auto& p) { p.top_k = -1; }), false},
      {with([](auto& p) { p.top_p = 0; }), false},
      {with([](auto& p) { p.top_p = 1.5f; }), false},
      {with([](auto& p) { p.min_p = -0.1f; }), false},
      {with([](auto& p) { p.min_p = 1.1f; }), false},
      {with([](auto& p) { p.repeat_penalty = 0; }), false},
      {with([](auto& p) { p.repeat_last_n = -2; }), false},
      {with([](auto& p) { p.frequency_penalty = 2.5f; }), false},
      {with([](auto& p) { p.presence_penalty = -2.f; }), true},
  };
  for (const auto& c : cases) {
    const Status st = validate_sampling(c.p);
    CHECK(st.is_ok() == c.ok);
    if (!c.ok) CHECK(st.code() == Code::kInvalidArgument);
  }
}

}  // namespace scn::inference

namespace scn::inference {
namespace {

TEST_CASE("plain_greedy: temperature 0 without penalties; then sample() is the raw arg-max") {
  struct Case {
    const char* what;
    SamplingParams p;
    bool want;
  };
  auto with = [](auto f) {
    SamplingParams p;
    p.temperature = 0;
    f(p);
    return p;
  };
  const Case cases[] = {
      {"greedy", with([](SamplingParams&) {}), true},
      {"greedy with top-k/top-p/min-p/seed", with([](SamplingParams& p) {
         p.top_k = 40;
         p.top_p = 0.9f;
         p.min_p = 0.05f;
         p.seed = 7;
       }), true},
      {"repeat penalty over an empty window", with([](SamplingParams& p) {
         p.repeat_penalty = 1.3f;
         p.repeat_last_n = 0;
       }), true},
      {"temperature 0.7", with([](SamplingParams& p) { p.temperature = 0.7f; }), false},
      {"repeat penalty", with([](SamplingParams& p) { p.repeat_penalty = 1.1f; }), false},
      {"frequency penalty", with([](SamplingParams& p) { p.frequency_penalty = 0.5f; }), false},
      {"presence penalty", with([](SamplingParams& p) { p.presence_penalty = -0.5f; }), false},
  };
  std::vector<float> logits(64);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i));
  logits[9] = logits[40] = 3.f;  // a tie: the lower id wins
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(plain_greedy(c.p) == c.want);
    if (!c.want) continue;
    Sampler s(c.p, 64);
    s.add_context(std::vector<int32_t>{9, 40});
    s.accept(9);
    CHECK(s.sample(logits.data()) == 9);
  }
}

}  // namespace
}  // namespace scn::inference
