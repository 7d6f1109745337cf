// The engine's batching checks (continuous batching, chunked prefill,
// prefix reuse, preemption and cancellation never change greedy outputs:
// they equal the golden continuations alone and in batches of 1, 2, 8 and
// 32, and every KV block is returned), as functions of the device so that
// the same checks run on the CPU (batching_test.cpp, CI) and on a GPU
// (tests/gpu/engine_cuda_test.cpp). Header-only: only tests include it.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "inference/engine/engine.h"
#include "tests/testing.h"

namespace scn::inference::batching_test {

struct Golden {
  std::vector<int32_t> prompt;  // with BOS
  std::vector<int32_t> greedy;  // 48 tokens
};

inline const std::vector<Golden>& golden() {
  static const std::vector<Golden> g = [] {
    std::ifstream in(testing::shared_path("golden/stories260K-prompts.json"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<Golden> out;
    const boost::json::value doc = boost::json::parse(ss.str());
    for (const auto& v : doc.as_array()) {
      const auto& o = v.as_object();
      Golden x;
      for (const auto& t : o.at("prompt_tokens_with_bos").as_array())
        x.prompt.push_back(static_cast<int32_t>(t.as_int64()));
      for (const auto& t : o.at("greedy_tokens").as_array())
        x.greedy.push_back(static_cast<int32_t>(t.as_int64()));
      out.push_back(std::move(x));
    }
    return out;
  }();
  return g;
}

// Request i: golden prompt i % 5 followed by the first k of its greedy
// tokens (so prompts of different lengths share prefixes); the expected
// output is the next m golden tokens.
struct Case {
  std::vector<int32_t> prompt;
  std::vector<int32_t> want;
};

inline Case make_case(int i) {
  const Golden& g = golden()[static_cast<size_t>(i) % golden().size()];
  const int k = (i * 7) % 30;
  const int m = 4 + (i * 5) % (44 - k);
  Case c;
  c.prompt = g.prompt;
  c.prompt.insert(c.prompt.end(), g.greedy.begin(), g.greedy.begin() + k);
  c.want.assign(g.greedy.begin() + k, g.greedy.begin() + k + m);
  return c;
}

inline std::unique_ptr<Engine> load(EngineOptions o, const std::string& device) {
  if (o.n_threads == 0) o.n_threads = 1;
  o.device = device;
  auto e = Engine::load(testing::shared_path("models/stories260K.gguf"), o);
  REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
  return std::move(e).value();
}

inline GenerateRequest greedy(const Case& c) {
  GenerateRequest r;
  r.prompt = c.prompt;
  r.max_tokens = static_cast<int>(c.want.size());
  r.sampling.temperature = 0;
  return r;
}

// Runs n concurrent requests (cases first..first+n) and checks each output.
// Every third request asks for logprobs, so that its token is sampled on the
// host from the logits while the others take the arg-max on the backend
// (scheduler.h): both must give the golden tokens in the same batches.
inline void run_concurrent(Engine& engine, int first, int n) {
  std::vector<std::vector<int32_t>> got(static_cast<size_t>(n));
  std::vector<Result<GenerateResult>> res(static_cast<size_t>(n), Status::internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      const Case c = make_case(first + i);
      GenerateRequest req = greedy(c);
      req.logprobs = (first + i) % 3 == 0;
      res[static_cast<size_t>(i)] = engine.generate(req, [&, i](const TokenEvent& ev) {
        got[static_cast<size_t>(i)].push_back(ev.token);
        return true;
      });
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    INFO("request " << first + i << " of " << n);
    REQUIRE_MESSAGE(res[static_cast<size_t>(i)].is_ok(), res[static_cast<size_t>(i)].status().to_string());
    CHECK(got[static_cast<size_t>(i)] == make_case(first + i).want);
    CHECK(res[static_cast<size_t>(i)]->finish == FinishReason::kLength);
  }
}

inline void check_batches_equal_golden(const std::string& device) {
  struct Config {
    const char* name;
    EngineOptions o;
  };
  std::vector<Config> configs;
  {
    Config c{"defaults", {}};
    configs.push_back(c);
    c = {"small blocks, prefix reuse", {}};
    c.o.block_tokens = 4;
    configs.push_back(c);
    c = {"no prefix reuse", {}};
    c.o.block_tokens = 4;
    c.o.prefix_cache = false;
    configs.push_back(c);
    c = {"chunked prefill (7 tokens per step)", {}};
    c.o.block_tokens = 4;
    c.o.max_batch_tokens = 7;
    configs.push_back(c);
    c = {"a pool of 24 blocks: preemption", {}};
    c.o.block_tokens = 4;
    c.o.ctx_total = 96;
    configs.push_back(c);
  }
  for (const Config& cfg : configs) {
    INFO(cfg.name);
    auto engine = load(cfg.o, device);
    const int start_used = engine->stats().kv_blocks_used;
    CHECK(start_used == 0);
    for (int n : {1, 2, 8, 32}) {
      INFO("batch of " << n);
      run_concurrent(*engine, n, n);
      const EngineStats s = engine->stats();
      CHECK(s.kv_blocks_used == start_used);
      CHECK(s.running == 0);
      CHECK(s.queued == 0);
    }
    const EngineStats s = engine->stats();
    CHECK(s.requests_total == 1 + 2 + 8 + 32);
    CHECK(s.generated_tokens_total > 0);
    if (cfg.o.ctx_total == 96) CHECK(s.preemptions_total > 0);
    if (cfg.o.block_tokens == 4 && cfg.o.prefix_cache) CHECK(s.cached_prompt_tokens_total > 0);
    if (!cfg.o.prefix_cache) CHECK(s.cached_prompt_tokens_total == 0);
  }
}

inline void check_repeated_prompt_reuses_blocks(const std::string& device) {
  EngineOptions o;
  o.block_tokens = 4;
  auto engine = load(o, device);
  const Case c = make_case(3);  // prompt of 6 + 21 tokens
  std::vector<int32_t> first, second;
  auto r1 = engine->generate(greedy(c), [&](const TokenEvent& ev) {
    first.push_back(ev.token);
    return true;
  });
  REQUIRE(r1.is_ok());
  CHECK(r1->cached_prompt_tokens == 0);
  auto r2 = engine->generate(greedy(c), [&](const TokenEvent& ev) {
    second.push_back(ev.token);
    return true;
  });
  REQUIRE(r2.is_ok());
  // At most prompt.size() - 1 tokens, whole blocks.
  CHECK(r2->cached_prompt_tokens == static_cast<int>((c.prompt.size() - 1) / 4 * 4));
  CHECK(first == c.want);
  CHECK(second == c.want);
  CHECK(r2->queue_seconds >= 0);
  CHECK(r2->first_token_seconds >= r2->queue_seconds);
  CHECK(engine->stats().cached_prompt_tokens_total == r2->cached_prompt_tokens);
}

inline void check_identical_prompts_share_blocks(const std::string& device) {
  EngineOptions o;
  o.block_tokens = 4;
  auto engine = load(o, device);
  const Case c = make_case(4);  // 6 + 28 prompt tokens
  const int n = 4;
  std::vector<Result<GenerateResult>> res(n, Status::internal("not run"));
  std::vector<std::vector<int32_t>> got(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      res[i] = engine->generate(greedy(c), [&, i](const TokenEvent& ev) {
        got[i].push_back(ev.token);
        return true;
      });
    });
  for (auto& t : threads) t.join();
  const int reusable = static_cast<int>((c.prompt.size() - 1) / 4 * 4);
  int cached = 0;
  for (int i = 0; i < n; ++i) {
    REQUIRE(res[i].is_ok());
    CHECK(got[i] == c.want);
    cached += res[i]->cached_prompt_tokens;
  }
  // Whoever ran first computed the prompt; the others reused all of it.
  CHECK(cached == (n - 1) * reusable);
  CHECK(engine->stats().kv_blocks_used == 0);
}

inline void check_cancelled_requests_free_blocks(const std::string& device) {
  EngineOptions o;
  o.block_tokens = 4;
  auto engine = load(o, device);
  const int n = 12;
  std::vector<std::vector<int32_t>> got(n);
  std::vector<Result<GenerateResult>> res(n, Status::internal("not run"));
  std::vector<std::shared_ptr<std::atomic<bool>>> flags(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      const Case c = make_case(40 + i);
      GenerateRequest req = greedy(c);
      req.max_tokens = 48;
      flags[i] = std::make_shared<std::atomic<bool>>(false);
      req.cancel = flags[i];
      res[i] = engine->generate(req, [&, i](const TokenEvent& ev) {
        got[i].push_back(ev.token);
        if (i % 3 == 0) return got[i].size() < 3;              // callback says stop
        if (i % 3 == 1 && got[i].size() == 2) flags[i]->store(true);  // client gone
        return true;
      });
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    INFO("request " << i);
    REQUIRE(res[i].is_ok());
    const Case c = make_case(40 + i);
    if (i % 3 == 2) {
      CHECK(res[i]->finish != FinishReason::kCancelled);
      const size_t m = std::min(got[i].size(), c.want.size());
      CHECK(std::vector<int32_t>(got[i].begin(), got[i].begin() + m) ==
            std::vector<int32_t>(c.want.begin(), c.want.begin() + m));
    } else {
      CHECK(res[i]->finish == FinishReason::kCancelled);
      CHECK(got[i].size() == (i % 3 == 0 ? 3u : 2u));
    }
  }
  CHECK(engine->stats().kv_blocks_used == 0);
  CHECK(engine->stats().running == 0);
}

}  // namespace scn::inference::batching_test
