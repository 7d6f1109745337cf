// The gateway's fast path (Gateway::Impl::completions_async): requests whose
// key, service, policy and routes are cached are forwarded from the IO
// thread with the asynchronous client; against real PostgreSQL and Redis
// and an in-process upstream that answers like a worker.
#include "broker/gateway/gateway.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "broker/gateway/gateway_test_fixture.h"
#include "broker/gateway/route_table.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;
using namespace std::chrono_literals;

constexpr const char* kKey = "scn-key-fast-path-secret";
constexpr const char* kAnswer =
    R"({"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"ok","finish_reason":"length"}],)"
    R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":3}}})";

double fast_count() {
  return metrics::default_registry()
      .counter("scn_broker_fast_path_requests_total", "")
      .value();
}

// A worker-like upstream: completions answered at once (or, for a prompt
// "slow", after up to 5 s unless its client leaves); streams as SSE.
struct Upstream {
  Upstream() {
    server.route("POST", "/v1/completions", [this](const http::Request& rq, http::Response& rs) {
      ++hits;
      auth = std::string(rq.header("Authorization"));
      request_id = std::string(rq.header("x-request-id"));
      if (rq.body.find("\"stream\":true") != std::string::npos) {
        rs.start_stream(200, {{"Content-Type", "text/event-stream"}});
        rs.write(R"(data: {"choices":[{"index":0,"text":"ok"}]})" "\n\n");
        rs.write(R"(data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}})" "\n\n");
        rs.write("data: [DONE]\n\n");
        return;
      }
      if (rq.body.find("\"slow\"") != std::string::npos) {
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < until && !rs.client_gone()) std::this_thread::sleep_for(5ms);
        saw_gone = rs.client_gone();
        if (saw_gone) return;
      }
      rs.set_json(200, kAnswer);
    });
    REQUIRE(server.start().is_ok());
  }
  std::atomic<int> hits{0};
  std::atomic<bool> saw_gone{false};
  std::string auth, request_id;
  http::Server server;
};

struct Platform {
  std::optional<db::testing::TestDatabase> db;
  std::unique_ptr<redis::RedisClient> redis;
  std::unique_ptr<BrokerContext> ctx;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<http::Server> server;
  std::string tenant, key, node, service;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  ~Platform() {
    if (server) {
      server->stop();
      server->wait();
    }
    if (gateway) gateway->stop();
    if (redis && !service.empty()) (void)redis->del({routes_key(service)});
  }
};

std::unique_ptr<Platform> make_platform(const std::vector<int>& replica_ports,
                                        std::chrono::milliseconds bad_for = 3000ms) {
  auto db = db::testing::make_test_database();
  if (!db) return nullptr;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return nullptr;
  auto p = std::make_unique<Platform>();
  p->db.emplace(std::move(*db));
  auto redis = redis::RedisClient::connect(*redis_url);
  REQUIRE(redis.is_ok());
  p->redis = std::move(*redis);
  p->ctx = std::make_unique<BrokerContext>(BrokerContext{*p->db->pool, *p->redis, *redis_url, {}});
  db::PgPool& pg = *p->db->pool;
  p->tenant = add_tenant(pg, "tenant-fast");
  p->key = add_api_key(pg, p->tenant, kKey);
  p->node = add_node(pg, "n1");
  p->service = add_service(pg, p->tenant, "chat");
  for (int port : replica_ports) add_replica(pg, p->service, p->node, port);
  GatewayOptions o;
  o.usage_flush = 60s;  // the tests flush themselves
  o.route_ttl = 60s;
  o.api_key_ttl = 60s;
  o.probe_period = 0ms;
  o.bad_endpoint_for = bad_for;
  p->gateway = std::make_unique<Gateway>(*p->ctx, o);
  REQUIRE(p->gateway->start().is_ok());
  p->server = std::make_unique<http::Server>();
  p->gateway->add_routes(*p->server);
  REQUIRE(p->server->start().is_ok());
  return p;
}

Result<http::ClientResponse> post(const Platform& p, const std::string& body, http::Headers extra = {},
                                  std::chrono::milliseconds timeout = 30s) {
  http::Headers h{{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kKey}};
  for (const auto& [k, v] : extra.fields()) h.set(k, v);
  return http::request("POST", p.url("/v1/completions"), body, h, timeout);
}

// Sends requests (distinct prompts: no affinity) until one went the fast
// way: the caches are warm (the routes' subscriber clears them once when it
// has subscribed, which may come after the first request).
void warm_up(const Platform& p, int at_least = 1) {
  for (int i = 0; i < 100; ++i) {
    const double before = fast_count();
    auto r = post(p, R"({"model":"chat","prompt":"warm )" + std::to_string(i) + R"("})");
    REQUIRE(r.is_ok());
    REQUIRE(r->status == 200);
    if (fast_count() > before && i + 1 >= at_least) return;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("the fast path was never taken");
}

TEST_CASE("fast path: cached requests are forwarded from the IO thread; answers, usage and log as on a worker") {
  Upstream up;
  auto p = make_platform({up.server.port()});
  if (!p) return;
  warm_up(*p);
  const int warm_hits = up.hits.load();
  const double before = fast_count();
  for (int i = 0; i < 20; ++i) {
    const std::string id = "client-id-" + std::to_string(i);
    auto r = post(*p, R"({"model":"chat","prompt":"hi","max_tokens":2})", {{"x-request-id", id}});
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    CHECK(r->body == kAnswer);
    CHECK(r->headers.get_or("Content-Type", "") == "application/json");
    CHECK(r->headers.get_or("x-request-id", "") == id);
    CHECK(up.request_id == id);
    CHECK(up.auth.rfind("Bearer ", 0) == 0);  // the replica's worker secret
    CHECK(up.auth.find(kKey) == std::string::npos);
  }
  // The key policy's cache lives 1 s: a request may renew it on a worker.
  CHECK(fast_count() - before >= 18);
  CHECK(up.hits.load() == warm_hits + 20);

  // Errors of the caller are answered on a worker, as before.
  auto unknown = post(*p, R"({"model":"nope","prompt":"hi"})");
  REQUIRE(unknown.is_ok());
  CHECK(unknown->status == 404);
  auto bad = post(*p, R"({"model":)");
  REQUIRE(bad.is_ok());
  CHECK(bad->status == 400);
  // Streams go through a worker too, and still pass through.
  const double before_stream = fast_count();
  auto streamed = post(*p, R"({"model":"chat","prompt":"hi","stream":true})");
  REQUIRE(streamed.is_ok());
  CHECK(streamed->status == 200);
  CHECK(streamed->body.find("data: [DONE]") != std::string::npos);
  CHECK(fast_count() == before_stream);

  REQUIRE(p->gateway->flush_usage().is_ok());
  REQUIRE(p->gateway->flush_request_log().is_ok());
  db::PgPool& pg = *p->db->pool;
  const std::string where = " WHERE service_id = " + quote(p->service);
  const int n = warm_hits + 21;  // every answered request, the stream included
  CHECK(sql_one(pg, "SELECT sum(requests) FROM usage_records" + where) == std::to_string(n));
  CHECK(sql_one(pg, "SELECT sum(prompt_tokens) FROM usage_records" + where) == std::to_string(5 * n));
  CHECK(sql_one(pg, "SELECT sum(cached_prompt_tokens) FROM usage_records" + where) == std::to_string(3 * (n - 1)));
  CHECK(sql_one(pg, "SELECT sum(completion_tokens) FROM usage_records" + where) == std::to_string(2 * n));
  CHECK(sql_one(pg, "SELECT count(*) FROM request_log" + where + " AND status = 200 AND replica_id IS NOT NULL"
                    " AND completion_tokens = 2 AND latency_ms > 0") == std::to_string(n));
  CHECK(sql_one(pg, "SELECT count(*) FROM request_log WHERE request_id = 'client-id-7'") == "1");
}

TEST_CASE("fast path: a replica that fails before answering is set aside and the request retried") {
  Upstream up, doomed;
  auto p = make_platform({up.server.port(), doomed.server.port()});
  if (!p) return;
  warm_up(*p, 4);
  CHECK(doomed.hits.load() > 0);  // both replicas in use, the caches warm
  doomed.server.stop();  // its port now refuses connections
  doomed.server.wait();
  const double before = fast_count();
  const int up_hits = up.hits.load();
  for (int i = 0; i < 6; ++i) {
    auto r = post(*p, R"({"model":"chat","prompt":"hi )" + std::to_string(i) + R"("})");
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    CHECK(r->body == kAnswer);
  }
  CHECK(fast_count() > before);
  CHECK(up.hits.load() == up_hits + 6);
  REQUIRE(p->gateway->flush_request_log().is_ok());
  CHECK(sql_one(*p->db->pool, "SELECT count(*) FROM request_log WHERE status <> 200") == "0");
  CHECK(sql_one(*p->db->pool, "SELECT count(*) FROM request_log") ==
        std::to_string(up.hits.load() + doomed.hits.load()));
}

TEST_CASE("fast path: a client that leaves cancels the upstream request; logged 499") {
  Upstream up;
  auto p = make_platform({up.server.port()});
  if (!p) return;
  warm_up(*p);
  const double before = fast_count();
  const auto since = std::chrono::steady_clock::now();
  auto r = post(*p, R"({"model":"chat","prompt":"slow"})", {}, 400ms);
  CHECK_FALSE(r.is_ok());
  CHECK(fast_count() == before + 1);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!up.saw_gone && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(up.saw_gone);
  CHECK(std::chrono::steady_clock::now() - since < 2500ms);  // long before the replica's 5 s
  std::string status;
  const auto logged_by = std::chrono::steady_clock::now() + 3s;
  while (status.empty() && std::chrono::steady_clock::now() < logged_by) {
    REQUIRE(p->gateway->flush_request_log().is_ok());
    status = sql_one(*p->db->pool, "SELECT status FROM request_log WHERE service_id = " + quote(p->service) +
                                       " ORDER BY id DESC LIMIT 1");
    if (status == "200") status.clear();
    if (status.empty()) std::this_thread::sleep_for(20ms);
  }
  CHECK(status == "499");
}

}  // namespace
}  // namespace scn::broker
