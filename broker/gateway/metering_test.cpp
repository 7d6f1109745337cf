// Metering against a real `scn infer`: the usage stored equals the usage
// the requests were answered with, per tenant, key, service, model and
// center; and a broker SIGKILLed loses at most its last flush interval.
#include <doctest/doctest.h>

#include <csignal>
#include <thread>

#include "broker/gateway/gateway_platform_test_util.h"
#include "common/process/subprocess.h"
#include "inference/server/infer_process_test_util.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;
using namespace std::chrono_literals;
using inference::testutil::InferProcess;

struct Sums {
  std::int64_t requests = 0, prompt = 0, cached = 0, completion = 0;
  void add(const boost::json::value& usage) {
    ++requests;
    prompt += usage.at("prompt_tokens").as_int64();
    completion += usage.at("completion_tokens").as_int64();
    if (const auto* d = usage.as_object().if_contains("prompt_tokens_details"); d && d->is_object()) {
      cached += d->at("cached_tokens").as_int64();
    }
  }
  std::string text() const {
    return std::to_string(requests) + "/" + std::to_string(prompt) + "/" + std::to_string(cached) + "/" +
           std::to_string(completion);
  }
};

constexpr const char* kSumsSql =
    "SELECT coalesce(sum(requests), 0) || '/' || coalesce(sum(prompt_tokens), 0) || '/' ||"
    " coalesce(sum(cached_prompt_tokens), 0) || '/' || coalesce(sum(completion_tokens), 0) FROM usage_records";

}  // namespace

TEST_CASE("metering: stored counts equal the usage of the answers (chat, completions, streams, cached prompts)") {
  InferProcess worker(scn::testing::shared_path("models/stories260K.gguf"),
                      {"--alias", "chat", "--ctx", "256", "--threads", "1"});
  REQUIRE(worker.spawned());
  REQUIRE_MESSAGE(worker.wait_ready(), worker.stderr_text());
  GatewayOptions o;
  o.usage_flush = 60s;
  std::string chat;
  auto p = make_gateway_platform(o, [&](GatewayPlatform& g) {
    chat = add_service(g.pg(), g.tenant, "chat");
    add_replica(g.pg(), chat, g.node, worker.port());
  });
  if (!p) return;
  Sums sums;
  const std::string story = "Once upon a time there was a little dog who liked to run in the park every day. ";
  for (int i = 0; i < 12; ++i) {
    const std::string n = std::to_string(i % 4);
    if (i % 3 == 0) {
      Called c = call_gateway(p->url("/v1/chat/completions"),
                              R"({"model":"chat","messages":[{"role":"system","content":")" + story +
                                  R"("},{"role":"user","content":"tell )" + n + R"("}],"max_tokens":)" +
                                  std::to_string(3 + i) + "}");
      REQUIRE_MESSAGE(c.status == 200, c.body);
      sums.add(c.json.at("usage"));
    } else if (i % 3 == 1) {
      Called c = call_gateway(p->url("/v1/completions"),
                              R"({"model":"chat","prompt":")" + story + n + R"(","max_tokens":)" + std::to_string(i) +
                                  R"(,"n":2})");
      REQUIRE_MESSAGE(c.status == 200, c.body);
      sums.add(c.json.at("usage"));
    } else {
      StreamedEvents s = stream_gateway(
          p->url("/v1/completions"),
          R"({"model":"chat","prompt":")" + story + R"(","max_tokens":5,"stream":true,)"
          R"("stream_options":{"include_usage":true}})");
      REQUIRE(s.status == 200);
      REQUIRE(s.events.size() >= 2);
      auto last = common::parse_json_object(s.events[s.events.size() - 2]);
      REQUIRE(last.is_ok());
      sums.add(last->at("usage"));
    }
  }
  // A streamed request that did not ask for the usage is metered too (the
  // broker asked the replica for it): one more request, counted below.
  StreamedEvents hidden = stream_gateway(p->url("/v1/completions"),
                                         R"({"model":"chat","prompt":"Once","max_tokens":4,"stream":true})");
  REQUIRE(hidden.status == 200);
  for (const auto& e : hidden.events) CHECK(e.find("\"usage\":{") == std::string::npos);
  // Its usage: 4 completion tokens and the prompt tokens of "Once" (asked
  // of the worker directly); the prefix cache may make some of them cached
  // (the hidden stream is metered with what the replica reported).
  Called direct = call_gateway(worker.url("/v1/completions"), R"({"prompt":"Once","max_tokens":1})", {}, "");
  REQUIRE(direct.status == 200);
  sums.requests += 1;
  sums.prompt += direct.json.at("usage").at("prompt_tokens").as_int64();
  sums.completion += 4;
  REQUIRE(p->gateway->flush_usage().is_ok());
  db::PgPool& pg = p->pg();
  CHECK(sums.cached > 0);
  const std::string stored = sql_one(pg, kSumsSql);
  const std::int64_t stored_cached = std::stoll(sql_one(pg, "SELECT sum(cached_prompt_tokens) FROM usage_records"));
  CHECK(stored_cached >= sums.cached);  // + whatever of "Once" was cached
  sums.cached = stored_cached;
  CHECK(stored == sums.text());
  // One row: this tenant, key, service, model and the replica's center.
  CHECK(sql_one(pg, "SELECT count(*) FROM usage_records") == "1");
  CHECK(sql_one(pg, "SELECT tenant_id || '/' || api_key_id || '/' || service_id || '/' || model || '/' || center_id"
                    " FROM usage_records") ==
        p->tenant + "/" + p->key_id + "/" + chat + "/stories260K/" +
            sql_one(pg, "SELECT center_id FROM nodes WHERE id = " + quote(p->node)));
}

TEST_CASE("metering: a SIGKILLed broker loses at most the usage of its last flush interval") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return;
  InferProcess worker(scn::testing::shared_path("models/stories260K.gguf"),
                      {"--alias", "chat", "--ctx", "256", "--threads", "1"});
  REQUIRE(worker.spawned());
  REQUIRE_MESSAGE(worker.wait_ready(), worker.stderr_text());
  db::PgPool& pg = *db->pool;
  const std::string tenant = add_tenant(pg, "tenant-a");
  add_api_key(pg, tenant, kTestKey);
  const std::string chat = add_service(pg, tenant, "chat");
  add_replica(pg, chat, add_node(pg, "n1"), worker.port());

  scn::testing::TempDir dir;
  const int port = scn::testing::free_port();
  process::SpawnOptions so;
  so.argv = {scn::testing::scn_binary(), "broker", "--pg-url", db->db->url(), "--redis-url", *redis_url,
             "--port", std::to_string(port), "--usage-flush-ms", "1000", "--web-root", "", "--workers", "4"};
  so.log_path = dir.file("broker.log");
  auto broker = process::Subprocess::spawn(so);
  REQUIRE_MESSAGE(broker.is_ok(), broker.status().to_string());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const auto up_deadline = std::chrono::steady_clock::now() + 20s;
  bool up = false;
  while (!up && std::chrono::steady_clock::now() < up_deadline) {
    auto h = http::request("GET", base + "/health", {}, {}, 1s);
    up = h.is_ok() && h->status == 200;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  REQUIRE_MESSAGE(up, "the broker did not start");

  // Requests for 1.8 s, then SIGKILL at once: every request answered more
  // than one flush interval (+ slack for the flush itself) before the kill
  // must be stored; none can be stored twice.
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> answered;
  std::int64_t completion_sum = 0;
  const auto until = Clock::now() + 1800ms;
  while (Clock::now() < until) {
    Called c = call_gateway(base + "/v1/completions", R"({"model":"chat","prompt":"Once","max_tokens":2})");
    REQUIRE_MESSAGE(c.status == 200, c.body);
    completion_sum += c.json.at("usage").at("completion_tokens").as_int64();
    answered.push_back(Clock::now());
  }
  const auto killed_at = Clock::now();
  (*broker)->signal(SIGKILL);
  REQUIRE((*broker)->wait_for(5s).has_value());
  const auto stored = std::stoll(sql_one(pg, "SELECT coalesce(sum(requests), 0) FROM usage_records"));
  std::int64_t must = 0;
  for (const auto& t : answered) must += t < killed_at - 1200ms ? 1 : 0;
  CAPTURE(answered.size());
  CAPTURE(must);
  CHECK(must > 0);
  CHECK(stored >= must);
  CHECK(stored <= static_cast<std::int64_t>(answered.size()));
  CHECK(std::stoll(sql_one(pg, "SELECT coalesce(sum(completion_tokens), 0) FROM usage_records")) <= completion_sum);
}

}  // namespace scn::broker
