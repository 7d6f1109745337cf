// Test support for the gateway's integration tests (include from *_test.cpp
// only): a Gateway on a real http::Server over a fresh PostgreSQL database
// and the shared Redis, with one tenant ("tenant-a", key kTestKey), one node
// and helpers to call it.
#pragma once

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/gateway/gateway.h"
#include "broker/gateway/gateway_test_fixture.h"
#include "broker/gateway/route_table.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"

namespace scn::broker::testing {

inline constexpr const char* kTestKey = "scn-key-gateway-platform-secret";

struct GatewayPlatform {
  std::optional<db::testing::TestDatabase> db;
  std::unique_ptr<redis::RedisClient> redis;
  std::unique_ptr<BrokerContext> ctx;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<http::Server> server;
  std::string tenant, key_id, node;
  std::vector<std::string> services;  // whose routes keys are deleted at the end

  db::PgPool& pg() { return *db->pool; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  ~GatewayPlatform() {
    if (server) {
      server->stop();
      server->wait();
    }
    if (gateway) gateway->stop();
    for (const auto& s : services) (void)redis->del({routes_key(s)});
  }
};

// nullptr when PostgreSQL or Redis is missing (the test is skipped).
inline std::unique_ptr<GatewayPlatform> make_gateway_platform(
    GatewayOptions options, const std::function<void(GatewayPlatform&)>& setup = {}) {
  auto db = db::testing::make_test_database();
  if (!db) return nullptr;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return nullptr;
  auto p = std::make_unique<GatewayPlatform>();
  p->db.emplace(std::move(*db));
  auto redis = redis::RedisClient::connect(*redis_url);
  REQUIRE(redis.is_ok());
  p->redis = std::move(*redis);
  p->ctx = std::make_unique<BrokerContext>(BrokerContext{*p->db->pool, *p->redis, *redis_url, {}});
  p->tenant = add_tenant(p->pg(), "tenant-a");
  p->key_id = add_api_key(p->pg(), p->tenant, kTestKey);
  p->node = add_node(p->pg(), "n1");
  if (setup) setup(*p);
  p->gateway = std::make_unique<Gateway>(*p->ctx, options);
  REQUIRE(p->gateway->start().is_ok());
  p->server = std::make_unique<http::Server>();
  p->gateway->add_routes(*p->server);
  REQUIRE(p->server->start().is_ok());
  return p;
}

struct Called {
  int status = 0;
  http::Headers headers;
  std::string body;
  boost::json::object json;
};

inline Called call_gateway(const std::string& url, const std::string& body, http::Headers extra = {},
                           const std::string& key = kTestKey) {
  http::Headers h{{"Content-Type", "application/json"}};
  if (!key.empty()) h.set("Authorization", "Bearer " + key);
  for (const auto& [k, v] : extra.fields()) h.set(k, v);
  auto r = http::request(body.empty() ? "GET" : "POST", url, body, h, std::chrono::seconds(60));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  Called c{r->status, r->headers, r->body, {}};
  auto parsed = common::parse_json_object(c.body);
  if (parsed.is_ok()) c.json = std::move(*parsed);
  return c;
}

// The data of each SSE event of a streamed call ("[DONE]" included), and
// its status. `on_event` returning false stops reading (disconnects).
struct StreamedEvents {
  int status = 0;
  std::vector<std::string> events;
};

inline StreamedEvents stream_gateway(const std::string& url, const std::string& body,
                                     const std::function<bool(const std::string&)>& on_event = {},
                                     const std::string& key = kTestKey) {
  StreamedEvents s;
  http::SseDecoder decoder;
  bool go_on = true;
  http::Headers h{{"Content-Type", "application/json"}};
  if (!key.empty()) h.set("Authorization", "Bearer " + key);
  auto r = http::request_stream(
      "POST", url, body, h,
      [&](int status, const http::Headers&) {
        s.status = status;
        return true;
      },
      [&](std::string_view bytes) {
        decoder.feed(bytes, [&](std::string_view data) {
          if (!go_on) return;
          s.events.emplace_back(data);
          if (on_event && !on_event(s.events.back())) go_on = false;
        });
        return go_on;
      },
      std::chrono::seconds(60));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return s;
}

}  // namespace scn::broker::testing
