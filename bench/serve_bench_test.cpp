#include "bench/serve_bench.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "bench/serve_stats.h"
#include "tests/testing.h"

namespace scn::bench {
namespace {

TEST_CASE("build_prompts: lengths, shared prefix, distinct suffixes, deterministic") {
  const std::vector<int32_t> pool = {5, 9, 13, 17, 21, 40, 41, 42};
  struct Case {
    int count, tokens, prefix;
  };
  for (const Case c : {Case{1, 1, 0}, Case{4, 10, 0}, Case{8, 30, 20}, Case{3, 5, 4}}) {
    CAPTURE(c.count);
    CAPTURE(c.tokens);
    CAPTURE(c.prefix);
    auto p = build_prompts(pool, c.count, c.tokens, c.prefix, 7);
    REQUIRE(p.size() == static_cast<size_t>(c.count));
    std::set<std::vector<int32_t>> distinct;
    std::set<int32_t> after_prefix;
    for (const auto& x : p) {
      CHECK(x.size() == static_cast<size_t>(c.tokens));
      for (int32_t id : x) CHECK(std::find(pool.begin(), pool.end(), id) != pool.end());
      CHECK(std::equal(x.begin(), x.begin() + c.prefix, p[0].begin()));
      distinct.insert(x);
      after_prefix.insert(x[static_cast<size_t>(c.prefix)]);
    }
    CHECK(distinct.size() == p.size());
    CHECK(after_prefix.size() == p.size());  // they differ right after the prefix
    CHECK(build_prompts(pool, c.count, c.tokens, c.prefix, 7) == p);
  }
  CHECK(build_prompts(pool, 4, 10, 0, 1) != build_prompts(pool, 4, 10, 0, 2));
  // Invalid: empty pool, no tokens, prefix not shorter than the prompt.
  CHECK(build_prompts({}, 2, 10, 0, 1).empty());
  CHECK(build_prompts(pool, 2, 0, 0, 1).empty());
  CHECK(build_prompts(pool, 2, 10, 10, 1).empty());
  CHECK(build_prompts(pool, 2, 10, -1, 1).empty());
}

TEST_CASE("read_stream_event: text, finish, usage with cached tokens, errors, [DONE]") {
  StreamEvent e = read_stream_event(
      R"({"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"Hi","finish_reason":null}]})");
  CHECK_FALSE(e.error);
  CHECK(e.text == "Hi");
  CHECK_FALSE(e.finished);
  CHECK_FALSE(e.has_usage);

  e = read_stream_event(R"({"choices":[{"index":0,"text":"","finish_reason":"length"}]})");
  CHECK(e.finished);
  CHECK(e.text.empty());

  e = read_stream_event(R"({"choices":[{"index":0,"delta":{"content":"yo"}}]})");
  CHECK(e.text == "yo");

  e = read_stream_event(
      R"({"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":8,"total_tokens":108,"prompt_tokens_details":{"cached_tokens":64}}})");
  CHECK(e.has_usage);
  CHECK(e.prompt_tokens == 100);
  CHECK(e.completion_tokens == 8);
  CHECK(e.has_cached);
  CHECK(e.cached_tokens == 64);

  e = read_stream_event(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}})");
  CHECK(e.has_usage);
  CHECK_FALSE(e.has_cached);

  e = read_stream_event(R"({"error":{"type":"server_error","message":"boom"}})");
  CHECK(e.error);
  CHECK(e.error_message == "boom");

  e = read_stream_event("{not json");
  CHECK(e.error);
  CHECK(read_stream_event("[DONE]").done);
}

TEST_CASE("percentile: nearest rank") {
  CHECK(percentile({}, 50) == 0);
  CHECK(percentile({3}, 99) == 3);
  CHECK(percentile({5, 1, 4, 2, 3}, 50) == 3);
  CHECK(percentile({5, 1, 4, 2, 3}, 0) == 1);
  CHECK(percentile({5, 1, 4, 2, 3}, 100) == 5);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  CHECK(percentile(hundred, 99) == 99);
  CHECK(percentile(hundred, 50) == 50);
}

TEST_CASE("summarize: throughput, latencies, 429s apart, prefix hit rate") {
  RequestSample a;
  a.http_status = 200;
  a.ok = true;
  a.ttft = 0.1;
  a.last_token = 1.1;  // 10 tokens: 9 intervals over 1 s
  a.completion_tokens = 10;
  a.has_usage = true;
  a.has_cached = true;
  a.prompt_tokens = 100;
  a.cached_tokens = 50;
  RequestSample b = a;
  b.ttft = 0.3;
  b.last_token = 0.3 + 0.2 * 9;
  b.cached_tokens = 0;
  RequestSample rejected;
  rejected.http_status = 429;
  RequestSample broken;
  broken.http_status = 500;
  broken.error = "boom";

  ServeStats s = summarize({a, b, rejected, broken}, 2.0);
  CHECK(s.requests == 4);
  CHECK(s.ok == 2);
  CHECK(s.rejected == 1);
  CHECK(s.failed == 1);
  CHECK(s.first_error == "boom");
  CHECK(s.generated_tokens == 20);
  CHECK(s.tok_s == doctest::Approx(10.0));
  CHECK(s.ttft_p50 == doctest::Approx(0.1));
  CHECK(s.ttft_p99 == doctest::Approx(0.3));
  CHECK(s.tpot_p50 == doctest::Approx(1.0 / 9));
  CHECK(s.tpot_p99 == doctest::Approx(0.2));
  CHECK(s.prefix_hit_rate == doctest::Approx(0.25));

  a.has_cached = b.has_cached = false;
  CHECK(summarize({a, b}, 1.0).prefix_hit_rate == -1);
  CHECK(summarize({}, 0).tok_s == 0);
}

TEST_CASE("run_serve_bench: rejects bad options") {
  ServeBenchOptions o;
  CHECK(run_serve_bench(o).status().code() == Code::kInvalidArgument);  // neither model nor url
  o.url = "http://127.0.0.1:1";
  o.model_path = "x.gguf";
  CHECK(run_serve_bench(o).status().code() == Code::kInvalidArgument);  // both
  o.model_path.clear();
  o.prompt_tokens = 10;
  o.shared_prefix = 10;
  CHECK(run_serve_bench(o).status().code() == Code::kInvalidArgument);
  o.shared_prefix = 0;
  o.clients = 0;
  CHECK(run_serve_bench(o).status().code() == Code::kInvalidArgument);
  o.clients = 1;
  CHECK(run_serve_bench(o).status().code() == Code::kUnavailable);  // nothing listens there
}

TEST_CASE("run_serve_bench: a short real run against scn infer on stories260K") {
  const std::string model = testing::shared_path("models/stories260K.gguf");
  if (!std::filesystem::exists(model) || !std::filesystem::exists(testing::scn_binary())) {
    REQUIRE_FALSE(testing::in_ci());
    MESSAGE("skipped: stories260K or the scn binary is missing");
    return;
  }
  ServeBenchOptions o;
  o.model_path = model;
  o.scn_binary = testing::scn_binary();
  o.threads = 1;
  o.clients = 3;
  o.requests = 6;
  o.prompt_tokens = 24;
  o.shared_prefix = 16;
  o.max_tokens = 12;
  auto r = run_serve_bench(o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  const ServeStats& s = r->stats;
  CHECK(s.requests == 6);
  CHECK(s.ok == 6);
  CHECK(s.failed == 0);
  CHECK(s.rejected == 0);
  CHECK(s.generated_tokens > 0);
  CHECK(s.generated_tokens <= 6 * 12);
  CHECK(s.tok_s > 0);
  CHECK(s.ttft_p50 > 0);
  CHECK(s.ttft_p99 >= s.ttft_p50);
  CHECK(s.prompt_tokens == 6 * 24);
  CHECK(r->peak_rss_bytes > 0);
  CHECK(r->server_command.find("infer --model") != std::string::npos);
  const std::string text = format_serve_report(*r);
  CHECK(text.find("6 ok, 0 failed, 0 rejected (429)") != std::string::npos);
  CHECK(text.find("generated tok/s") != std::string::npos);
  CHECK(serve_report_json(*r).find("\"tok_s\"") != std::string::npos);
}

}  // namespace
}  // namespace scn::bench
