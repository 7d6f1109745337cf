// Scale to zero, the gateway's side: a request to a service at zero wakes it
// and is held until a replica is ready (or the bound passes), and the load
// per service is published for the autoscaler.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "broker/gateway/gateway.h"
#include "broker/gateway/gateway_test_fixture.h"
#include "broker/gateway/route_table.h"
#include "broker/gateway/service_load.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;
using namespace std::chrono_literals;

constexpr const char* kKey = "scn-key-cold-start-secret";

// A stand-in worker: answers every chat completion with a fixed body.
struct FakeWorker {
  http::Server server;
  FakeWorker() {
    server.route("POST", "/v1/chat/completions", [](const http::Request&, http::Response& res) {
      res.set_json(200, R"({"id":"x","object":"chat.completion","choices":[],)"
                        R"("usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})");
    });
    REQUIRE(server.start().is_ok());
  }
  ~FakeWorker() {
    server.stop();
    server.wait();
  }
};

struct ColdPlatform {
  std::optional<db::testing::TestDatabase> db;
  std::unique_ptr<redis::RedisClient> redis;
  std::unique_ptr<BrokerContext> ctx;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<http::Server> server;
  std::string tenant, node, lazy, fixed;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  ~ColdPlatform() {
    if (server) {
      server->stop();
      server->wait();
    }
    if (gateway) gateway->stop();
    if (redis && !lazy.empty())
      (void)redis->del({"scn:demand:" + lazy, "scn:load:" + lazy, "scn:demand:" + fixed,
                        "scn:load:" + fixed, routes_key(lazy), routes_key(fixed)});
  }
};

std::unique_ptr<ColdPlatform> make_cold(GatewayOptions options) {
  auto db = db::testing::make_test_database();
  if (!db) return nullptr;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return nullptr;
  auto p = std::make_unique<ColdPlatform>();
  p->db.emplace(std::move(*db));
  auto redis = redis::RedisClient::connect(*redis_url);
  REQUIRE(redis.is_ok());
  p->redis = std::move(*redis);
  p->ctx = std::make_unique<BrokerContext>(BrokerContext{*p->db->pool, *p->redis, *redis_url, {}});
  db::PgPool& pg = *p->db->pool;
  p->tenant = add_tenant(pg, "tenant-a");
  add_api_key(pg, p->tenant, kKey);
  p->node = add_node(pg, "n1");
  p->lazy = add_service(pg, p->tenant, "lazy");
  sql_one(pg, "UPDATE services SET replicas_wanted = 0, min_replicas = 0, max_replicas = 2, status = 'pending' "
              "WHERE id = " + quote(p->lazy) + " RETURNING id");
  p->fixed = add_service(pg, p->tenant, "fixed");
  options.broker_id = "broker-test";
  p->gateway = std::make_unique<Gateway>(*p->ctx, options);
  REQUIRE(p->gateway->start().is_ok());
  p->server = std::make_unique<http::Server>();
  p->gateway->add_routes(*p->server);
  REQUIRE(p->server->start().is_ok());
  return p;
}

http::ClientResponse chat(const ColdPlatform& p, const std::string& model) {
  auto r = http::request("POST", p.url("/v1/chat/completions"),
                         R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})",
                         {{"Authorization", std::string("Bearer ") + kKey}});
  REQUIRE(r.is_ok());
  return *r;
}

TEST_CASE("cold start: a request to a service at zero wakes it and is held until a replica is ready") {
  GatewayOptions o;
  o.cold_start_hold = 10s;
  o.load_publish = 100ms;
  o.route_ttl = 100ms;
  auto p = make_cold(o);
  if (!p) return;
  FakeWorker worker;
  std::atomic<bool> saw_demand{false}, saw_load{false};
  // The "scheduler": waits for the wake, checks the published load, then a replica turns ready.
  std::thread scheduler([&] {
    for (int i = 0; i < 100 && !saw_demand; ++i) {
      auto d = p->redis->get("scn:demand:" + p->lazy);
      saw_demand = d.is_ok() && d->has_value();
      std::this_thread::sleep_for(20ms);
    }
    for (int i = 0; i < 100 && !saw_load; ++i) {
      auto h = p->redis->hgetall("scn:load:" + p->lazy);
      if (h.is_ok() && h->count("broker-test"))
        saw_load = h->at("broker-test").find("\"in_flight\":1") != std::string::npos;
      std::this_thread::sleep_for(20ms);
    }
    std::this_thread::sleep_for(300ms);
    add_replica(*p->db->pool, p->lazy, p->node, worker.server.port());
  });
  const auto t0 = std::chrono::steady_clock::now();
  http::ClientResponse r = chat(*p, "lazy");
  const auto took = std::chrono::steady_clock::now() - t0;
  scheduler.join();
  CHECK(saw_demand.load());
  CHECK(saw_load.load());
  CHECK_MESSAGE(r.status == 200, r.body);
  auto cold = r.headers.get("x-scn-cold-start-ms");
  REQUIRE(cold.has_value());
  CHECK(std::stol(std::string(*cold)) >= 300);
  CHECK(took >= 300ms);
  // Once the request is done, 0 in flight is published (then forgotten).
  bool zero = false;
  for (int i = 0; i < 100 && !zero; ++i) {
    auto h = p->redis->hgetall("scn:load:" + p->lazy);
    zero = h.is_ok() && h->count("broker-test") &&
           h->at("broker-test").find("\"in_flight\":0") != std::string::npos;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(zero);
  // A warm request has no cold-start header.
  http::ClientResponse warm = chat(*p, "lazy");
  CHECK(warm.status == 200);
  CHECK(!warm.headers.has("x-scn-cold-start-ms"));
}

TEST_CASE("cold start: the hold is bounded (503); a service that cannot be at zero is not woken, only waited for") {
  GatewayOptions o;
  o.cold_start_hold = 400ms;
  o.route_wait = 200ms;
  o.load_publish = 100ms;
  auto p = make_cold(o);
  if (!p) return;
  auto t0 = std::chrono::steady_clock::now();
  http::ClientResponse r = chat(*p, "lazy");
  CHECK(std::chrono::steady_clock::now() - t0 >= 400ms);
  CHECK(r.status == 503);
  CHECK(r.body.find("no_ready_replica") != std::string::npos);
  CHECK(r.headers.get_or("Retry-After", "") == "2");
  CHECK(p->redis->get("scn:demand:" + p->lazy)->has_value());

  t0 = std::chrono::steady_clock::now();
  http::ClientResponse f = chat(*p, "fixed");
  CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);  // --route-wait-ms
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(f.status == 503);
  CHECK(!p->redis->get("scn:demand:" + p->fixed)->has_value());
}

}  // namespace
}  // namespace scn::broker
