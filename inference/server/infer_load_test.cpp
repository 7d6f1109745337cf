// `scn infer` under load, as a real child process on stories260K over real
// HTTP: overload (429 + Retry-After, accepted requests exact), /health
// ready/busy, /metrics moving, KV blocks returned after a disconnect,
// prefix-cache hits in usage, n > 1 choices, --ctx-total, and the engine v2 flags.
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/http/client.h"
#include "inference/server/infer_process_test_util.h"
#include "tests/testing.h"

namespace scn::inference {
namespace {
namespace json = boost::json;
using testutil::InferProcess;
using namespace std::chrono_literals;

std::string model_path() { return scn::testing::shared_path("models/stories260K.gguf"); }

struct Answer {
  int status = 0;
  std::string retry_after;
  json::value body;
};

// Never throws (used from client threads): status 0 when the exchange
// failed, a null body when it was not JSON.
Answer post(InferProcess& p, const std::string& path, const std::string& body) {
  Answer a;
  auto r = http::request("POST", p.url(path), body, {{"Content-Type", "application/json"}}, 60s);
  if (!r.is_ok()) return a;
  a.status = r->status;
  a.retry_after = r->headers.get_or("Retry-After", "");
  boost::system::error_code ec;
  a.body = json::parse(r->body, ec);
  if (ec) a.body = nullptr;
  return a;
}

json::object health(InferProcess& p) {
  auto r = http::request("GET", p.url("/health"));
  REQUIRE(r.is_ok());
  REQUIRE(r->status == 200);
  return json::parse(r->body).as_object();
}

// The value of one unlabelled series in /metrics (nullopt when absent).
std::optional<double> metric(InferProcess& p, const std::string& name) {
  auto r = http::request("GET", p.url("/metrics"));
  REQUIRE(r.is_ok());
  const std::string& body = r->body;
  size_t pos = 0;
  while ((pos = body.find(name + " ", pos)) != std::string::npos) {
    if (pos == 0 || body[pos - 1] == '\n') return std::stod(body.substr(pos + name.size() + 1));
    pos += name.size();
  }
  return std::nullopt;
}

std::string text_of(const Answer& a) {
  REQUIRE(a.body.is_object());
  return std::string(a.body.at("choices").as_array().at(0).at("text").as_string());
}

std::unique_ptr<InferProcess> start(std::vector<std::string> args) {
  auto p = std::make_unique<InferProcess>(model_path(), std::move(args));
  REQUIRE(p->spawned());
  INFO("stderr: ", p->stderr_text());
  REQUIRE(p->wait_ready());
  return p;
}

constexpr const char* kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun "
    "with her dog Max. One day, Lily and Max went to the park to play with a big red ball. ";

TEST_CASE("scn infer: overload — the excess gets 429 with Retry-After, accepted requests are exact") {
  auto p = start({"--max-queue", "2", "--parallel", "2", "--threads", "1", "--ctx", "512"});
  const std::string body = std::string(R"({"prompt": "Once upon a time", "max_tokens": 300, )") +
                           R"("temperature": 0, "ignore_eos": true})";
  const Answer alone = post(*p, "/v1/completions", body);
  REQUIRE(alone.status == 200);
  const std::string expected = text_of(alone);

  // 8 clients (4 x --max-queue) released at once.
  constexpr int kClients = 8;
  std::vector<Answer> answers(kClients);
  std::atomic<int> ready{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kClients) std::this_thread::yield();
      answers[static_cast<size_t>(i)] = post(*p, "/v1/completions", body);
    });
  }
  for (auto& t : clients) t.join();
  int ok = 0, rejected = 0;
  for (const Answer& a : answers) {
    if (a.status == 200) {
      ++ok;
      CHECK(text_of(a) == expected);  // same tokens as alone (temperature 0)
    } else {
      CHECK(a.status == 429);
      REQUIRE(a.body.is_object());
      CHECK(a.retry_after == "1");
      CHECK(a.body.at("error").at("type").as_string() == "rate_limit_error");
      CHECK(a.body.at("error").at("code").as_string() == "queue_full");
      ++rejected;
    }
  }
  CHECK(ok >= 1);
  CHECK(rejected >= 1);
  CHECK(ok + rejected == kClients);
  // The process stays up and answers.
  CHECK_FALSE(p->poll_exit().has_value());
  CHECK(text_of(post(*p, "/v1/completions", body)) == expected);
  CHECK(health(*p).at("status").as_string() == "ready");
  CHECK(metric(*p, "scn_infer_requests_waiting") == 0.0);
}

TEST_CASE("scn infer: /health busy while the queue is full; a disconnect returns the KV blocks") {
  auto p = start({"--max-queue", "1", "--parallel", "1", "--threads", "1"});
  const auto blocks_free_at_start = metric(*p, "scn_infer_kv_blocks_free");
  REQUIRE(blocks_free_at_start.has_value());
  CHECK(*blocks_free_at_start > 0);
  CHECK(health(*p).at("status").as_string() == "ready");

  const std::string long_gen = R"({"prompt": "Once upon a time", "max_tokens": 1900, "temperature": 0,
                                   "ignore_eos": true, "stream": true})";
  std::string busy_status, queued_status;
  Answer queued;
  std::thread waiting;
  auto r = http::request_stream("POST", p->url("/v1/completions"), long_gen, {}, [&](std::string_view) {
    // The long one runs; a second one waits in the queue (size 1): busy.
    waiting = std::thread([&] {
      queued = post(*p, "/v1/completions", R"({"prompt": "Once", "max_tokens": 4, "temperature": 0})");
    });
    for (int i = 0; i < 200; ++i) {
      busy_status = std::string(health(*p).at("status").as_string());
      if (busy_status == "busy") break;
      std::this_thread::sleep_for(10ms);
    }
    return false;  // disconnect: the long generation is cancelled
  });
  REQUIRE(r.is_ok());
  waiting.join();
  CHECK(busy_status == "busy");
  CHECK(queued.status == 200);
  // Everything finished: no sequence runs and every block is free again.
  bool idle = false;
  for (int i = 0; i < 100 && !idle; ++i) {
    idle = metric(*p, "scn_infer_sequences_running") == 0.0 &&
           metric(*p, "scn_infer_kv_blocks_used") == 0.0 &&
           metric(*p, "scn_infer_kv_blocks_free") == blocks_free_at_start;
    if (!idle) std::this_thread::sleep_for(20ms);
  }
  CHECK(idle);
  CHECK(health(*p).at("status").as_string() == "ready");
}

TEST_CASE("scn infer: metrics move; a repeated prompt reports cached tokens; n > 1 choices") {
  auto p = start({"--threads", "1", "--ctx", "512"});
  const std::vector<std::string> names = {
      "scn_infer_requests_waiting", "scn_infer_sequences_running", "scn_infer_kv_blocks_total",
      "scn_infer_kv_blocks_used", "scn_infer_kv_blocks_free", "scn_infer_prefix_hit_rate",
      "scn_infer_engine_prompt_tokens_total", "scn_infer_cached_prompt_tokens_total",
      "scn_infer_generated_tokens_total", "scn_infer_preemptions_total",
      "scn_infer_engine_requests_total", "scn_infer_generation_tokens_per_second",
      "scn_infer_time_to_first_token_seconds_count", "scn_infer_time_per_output_token_seconds_count",
      "scn_infer_token_latency_seconds_count", "scn_infer_queue_depth"};
  std::map<std::string, double> before;
  for (const auto& n : names) {
    CAPTURE(n);
    auto v = metric(*p, n);
    REQUIRE(v.has_value());
    before[n] = *v;
  }
  const std::string body = std::string(R"({"prompt": ")") + kStory +
                           R"(", "max_tokens": 16, "temperature": 0})";
  const Answer first = post(*p, "/v1/completions", body);
  REQUIRE(first.status == 200);
  const Answer again = post(*p, "/v1/completions", body);
  REQUIRE(again.status == 200);
  REQUIRE(again.body.is_object());
  CHECK(text_of(again) == text_of(first));
  const json::value& usage = again.body.at("usage");
  const int64_t prompt_tokens = usage.at("prompt_tokens").as_int64();
  CHECK(prompt_tokens > 32);
  CHECK(first.body.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64() >= 0);
  const int64_t cached = usage.at("prompt_tokens_details").at("cached_tokens").as_int64();
  CHECK(cached > 0);  // needs engine v2's prefix cache
  CHECK(cached < prompt_tokens);

  for (const char* n : {"scn_infer_generated_tokens_total", "scn_infer_engine_requests_total",
                        "scn_infer_engine_prompt_tokens_total", "scn_infer_time_to_first_token_seconds_count",
                        "scn_infer_time_per_output_token_seconds_count"}) {
    CAPTURE(n);
    CHECK(*metric(*p, n) > before[n]);
  }
  CHECK(*metric(*p, "scn_infer_generated_tokens_total") >= before["scn_infer_generated_tokens_total"] + 32);
  CHECK(*metric(*p, "scn_infer_cached_prompt_tokens_total") >= static_cast<double>(cached));
  CHECK(*metric(*p, "scn_infer_prefix_hit_rate") > 0);
  CHECK(*metric(*p, "scn_infer_generation_tokens_per_second") >= 0);

  // n = 3 at temperature 0: three equal choices, the tokens of one request alone.
  const std::string n3 = std::string(R"({"prompt": ")") + kStory +
                         R"(", "max_tokens": 16, "temperature": 0, "n": 3})";
  const Answer three = post(*p, "/v1/completions", n3);
  REQUIRE(three.status == 200);
  const json::array& choices = three.body.at("choices").as_array();
  REQUIRE(choices.size() == 3);
  for (const auto& c : choices) CHECK(c.at("text").as_string() == text_of(first));
  CHECK(three.body.at("usage").at("completion_tokens").as_int64() ==
        3 * first.body.at("usage").at("completion_tokens").as_int64());
}

TEST_CASE("scn infer: --ctx-total sizes the KV pool; concurrent requests still complete exactly") {
  auto p = start({"--threads", "1", "--ctx-total", "256", "--parallel", "4"});
  // 256 positions = 16 blocks of 16; one sequence may use 15 of them.
  CHECK(metric(*p, "scn_infer_kv_blocks_total") == 16.0);
  CHECK(metric(*p, "scn_infer_kv_blocks_free") == 16.0);
  auto models = http::request("GET", p->url("/v1/models"));
  REQUIRE(models.is_ok());
  CHECK(json::parse(models->body).at("data").at(0).at("meta").at("n_ctx").as_int64() == 240);

  // 5 + 70 positions: 5 blocks each, so 4 at once (20 blocks) do not fit in
  // 16 together: they wait or are preempted, and still come out exact.
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 70, "temperature": 0,
                              "ignore_eos": true})";
  const Answer alone = post(*p, "/v1/completions", body);
  REQUIRE(alone.status == 200);
  const std::string expected = text_of(alone);
  CHECK(alone.body.at("usage").at("completion_tokens").as_int64() == 70);

  constexpr int kClients = 4;
  std::vector<Answer> answers(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] { answers[static_cast<size_t>(i)] = post(*p, "/v1/completions", body); });
  for (auto& t : clients) t.join();
  for (const Answer& a : answers) {
    REQUIRE(a.status == 200);
    CHECK(text_of(a) == expected);
    CHECK(a.body.at("usage").at("completion_tokens").as_int64() == 70);
  }

  // A prompt longer than one sequence's 240 positions is refused.
  std::string long_prompt;
  for (int i = 0; i < 8; ++i) long_prompt += kStory;
  const Answer too_long = post(*p, "/v1/completions",
                               std::string(R"({"prompt": ")") + long_prompt + R"(", "max_tokens": 4})");
  CHECK(too_long.status == 400);
  REQUIRE(too_long.body.is_object());
  CHECK(std::string(too_long.body.at("error").at("message").as_string()).find("is 240 tokens") !=
        std::string::npos);

  bool idle = false;
  for (int i = 0; i < 100 && !idle; ++i) {
    idle = metric(*p, "scn_infer_sequences_running") == 0.0 &&
           metric(*p, "scn_infer_kv_blocks_used") == 0.0 &&
           metric(*p, "scn_infer_kv_blocks_free") == 16.0;
    if (!idle) std::this_thread::sleep_for(20ms);
  }
  CHECK(idle);
  CHECK(metric(*p, "scn_infer_kv_blocks_total") == 16.0);
}

TEST_CASE("scn infer: --no-prefix-cache reports no cached tokens; engine flags are checked") {
  auto p = start({"--threads", "1", "--ctx", "512", "--no-prefix-cache", "--parallel", "4",
                  "--max-batch-tokens", "64", "--kv-memory", "8M"});
  const std::string body = std::string(R"({"prompt": ")") + kStory +
                           R"(", "max_tokens": 8, "temperature": 0})";
  post(*p, "/v1/completions", body);
  const Answer again = post(*p, "/v1/completions", body);
  REQUIRE(again.status == 200);
  CHECK(again.body.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64() == 0);

  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--kv-memory", "lots"}, {"--parallel", "0"}, {"--max-batch-tokens", "0"},
        {"--ctx-total", "-1"}}) {
    CAPTURE(bad[0]);
    InferProcess q(model_path(), bad);
    REQUIRE(q.spawned());
    auto code = q.wait_exit(20s);
    REQUIRE(code.has_value());
    CHECK(*code == 2);
    CHECK(q.stderr_text().find(bad[0]) != std::string::npos);
  }
}

}  // namespace
}  // namespace scn::inference
