// Two real `scn broker` processes (SCN_BINARY) on one database and one
// Redis: a revoked key stops within a second on both, an expired key is
// refused, rate limits are shared, and refusals carry the OpenAI shape.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <thread>

#include "broker/gateway/gateway_test_fixture.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/process/subprocess.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::broker::limits {
namespace {

using broker::testing::add_api_key;
using broker::testing::add_service;
using broker::testing::add_tenant;
using broker::testing::quote;
using broker::testing::sql_one;
using Clock = std::chrono::steady_clock;

struct Broker {
  std::unique_ptr<process::Subprocess> proc;
  std::string base;
};

Broker start_broker(const std::string& pg_url, const std::string& redis_url, scn::testing::TempDir& dir, int n) {
  const int port = scn::testing::free_port();
  process::SpawnOptions o;
  o.argv = {scn::testing::scn_binary(), "broker", "--pg-url", pg_url, "--redis-url", redis_url, "--port",
            std::to_string(port), "--kdf-cost", "10", "--web-root", ""};
  o.log_path = dir.file("broker" + std::to_string(n) + ".log");
  auto child = process::Subprocess::spawn(o);
  REQUIRE_MESSAGE(child.is_ok(), child.status().to_string());
  Broker b{std::move(child).value(), "http://127.0.0.1:" + std::to_string(port)};
  bool up = false;
  for (int i = 0; i < 150 && !up; ++i) {
    auto h = http::request("GET", b.base + "/health", {}, {}, std::chrono::milliseconds(500));
    up = h.is_ok() && h->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(up, "broker did not come up; log in " << o.log_path);
  return b;
}

http::ClientResponse call(const Broker& b, std::string_view method, const std::string& path, const std::string& key,
                          const std::string& body = {}) {
  http::Headers h{{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
  auto r = http::request(method, b.base + path, body, h);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

std::string error_field(const http::ClientResponse& r, const char* field) {
  auto v = common::parse_json_object(r.body);
  REQUIRE_MESSAGE(v.is_ok(), r.body);
  const auto& f = v->at("error").at(field);
  return f.is_string() ? std::string(f.as_string()) : "";
}

TEST_CASE("two brokers: key revocation within a second, expiry, shared rate limits") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return;
  db::PgPool& pg = *db->pool;
  const std::string tenant = add_tenant(pg, "acme");
  const std::string secret = "scn-key-two-brokers-test-secret-0001";
  const std::string key_id = add_api_key(pg, tenant, secret);
  const std::string expired = "scn-key-two-brokers-test-secret-0002";
  const std::string expired_id = add_api_key(pg, tenant, expired);
  sql_one(pg, "UPDATE api_keys SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'"
              " WHERE id = " + quote(expired_id) + " RETURNING id");
  const std::string limited = "scn-key-two-brokers-test-secret-0003";
  const std::string limited_id = add_api_key(pg, tenant, limited);
  sql_one(pg, "UPDATE api_keys SET limit_requests_per_minute = 2 WHERE id = " + quote(limited_id) + " RETURNING id");
  const std::string service = add_service(pg, tenant, "stories");
  sql_one(pg, "UPDATE services SET status = 'stopped' WHERE id = " + quote(service) + " RETURNING id");

  scn::testing::TempDir dir;
  Broker a = start_broker(db->db->url(), *redis_url, dir, 1);
  Broker b = start_broker(db->db->url(), *redis_url, dir, 2);

  // Expired: 401 on both.
  for (const Broker* x : {&a, &b}) {
    auto r = call(*x, "GET", "/v1/models", expired);
    CHECK(r.status == 401);
    CHECK(error_field(r, "code") == "invalid_api_key");
    CHECK(error_field(r, "message").find("expired") != std::string::npos);
  }

  // Rate limits shared: 2 requests per minute in all, whichever broker.
  const std::string req = R"({"model":"stories","prompt":"hi","max_tokens":1})";
  auto first = call(a, "POST", "/v1/completions", limited, req);
  CHECK(first.status == 503);  // admitted; the stopped service has no replica
  CHECK(first.headers.get_or("x-ratelimit-limit-requests", "") == "2");
  CHECK(first.headers.get_or("x-ratelimit-remaining-requests", "") == "1");
  auto second = call(b, "POST", "/v1/completions", limited, req);
  CHECK(second.status == 503);
  CHECK(second.headers.get_or("x-ratelimit-remaining-requests", "") == "0");
  for (const Broker* x : {&a, &b}) {
    auto r = call(*x, "POST", "/v1/completions", limited, req);
    CHECK(r.status == 429);
    CHECK(error_field(r, "type") == "rate_limit_exceeded");
    CHECK(r.headers.has("retry-after"));
    CHECK(r.headers.get_or("x-ratelimit-remaining-requests", "") == "0");
  }

  // Revocation: both brokers served the key (cached), then it is revoked
  // through broker a; within a second neither accepts it.
  for (const Broker* x : {&a, &b}) CHECK(call(*x, "GET", "/v1/models", secret).status == 200);
  auto revoked = call(a, "DELETE", "/api/v1/api-keys/" + key_id, secret);
  REQUIRE(revoked.status == 204);
  const auto at = Clock::now();
  bool a_stopped = false, b_stopped = false;
  while (!(a_stopped && b_stopped) && Clock::now() - at < std::chrono::milliseconds(1500)) {
    a_stopped = a_stopped || call(a, "GET", "/v1/models", secret).status == 401;
    b_stopped = b_stopped || call(b, "GET", "/v1/models", secret).status == 401;
    if (!(a_stopped && b_stopped)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - at).count();
  CHECK(a_stopped);
  CHECK(b_stopped);
  CHECK_MESSAGE(took <= 1100, "revocation took " << took << " ms");

  for (Broker* x : {&a, &b}) {
    x->proc->signal(SIGTERM);
    CHECK(x->proc->wait_for(std::chrono::seconds(15)).has_value());
  }
}

}  // namespace
}  // namespace scn::broker::limits
