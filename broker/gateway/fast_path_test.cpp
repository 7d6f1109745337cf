// The gateway's fast path (Gateway::Impl::completions_async): requests whose
// key, service, policy and routes are cached are forwarded from the IO
// thread with the asynchronous client; against real PostgreSQL and Redis
// and an in-process upstream that answers like a worker.
#include "broker/gateway/gateway.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "broker/gateway/gateway_platform_test_util.h"
#include "common/http/client.h"
#include "common/metrics.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;
using namespace std::chrono_literals;

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
  std::unique_ptr<GatewayPlatform> gp;
  std::string service;
  std::string url(const std::string& path) const { return gp->url(path); }
};

// The gateway (caches that outlive the test, no load probe) with one
// service "chat" whose replicas listen on `replica_ports`.
std::unique_ptr<Platform> make_platform(const std::vector<int>& replica_ports) {
  GatewayOptions o;
  o.usage_flush = 60s;  // the tests flush themselves
  o.route_ttl = 60s;
  o.api_key_ttl = 60s;
  o.probe_period = 0ms;
  auto p = std::make_unique<Platform>();
  p->gp = make_gateway_platform(o, [&](GatewayPlatform& g) {
    p->service = add_service(g.pg(), g.tenant, "chat");
    g.services.push_back(p->service);
    for (int port : replica_ports) add_replica(g.pg(), p->service, g.node, port);
  });
  if (!p->gp) return nullptr;
  return p;
}

Result<http::ClientResponse> post(const Platform& p, const std::string& body, http::Headers extra = {},
                                  std::chrono::milliseconds timeout = 30s) {
  http::Headers h{{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kTestKey}};
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
    CHECK(up.auth.find(kTestKey) == std::string::npos);
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

  REQUIRE(p->gp->gateway->flush_usage().is_ok());
  REQUIRE(p->gp->gateway->flush_request_log().is_ok());
  db::PgPool& pg = p->gp->pg();
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
  REQUIRE(p->gp->gateway->flush_request_log().is_ok());
  CHECK(sql_one(p->gp->pg(), "SELECT count(*) FROM request_log WHERE status <> 200") == "0");
  CHECK(sql_one(p->gp->pg(), "SELECT count(*) FROM request_log") ==
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
    REQUIRE(p->gp->gateway->flush_request_log().is_ok());
    status = sql_one(p->gp->pg(), "SELECT status FROM request_log WHERE service_id = " + quote(p->service) +
                                       " ORDER BY id DESC LIMIT 1");
    if (status == "200") status.clear();
    if (status.empty()) std::this_thread::sleep_for(20ms);
  }
  CHECK(status == "499");
}

}  // namespace
}  // namespace scn::broker
