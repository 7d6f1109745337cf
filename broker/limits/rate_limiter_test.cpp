// The rate limiter against a real PostgreSQL and Redis: buckets, budgets,
// concurrency leases, scopes, several brokers sharing one Redis.
#include "broker/limits/rate_limiter.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <thread>

#include "broker/gateway/gateway_test_fixture.h"
#include "common/db/test_db.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::broker::limits {
namespace {

using broker::testing::add_api_key;
using broker::testing::add_service;
using broker::testing::add_tenant;
using broker::testing::quote;
using broker::testing::sql_one;

common::JsonObject body(std::string_view text) {
  auto r = common::parse_json_object(text);
  REQUIRE(r.is_ok());
  return std::move(r).value();
}

struct World {
  db::testing::TestDatabase db;
  std::string redis_url;
  std::string prefix;
  std::string tenant, key_id, service, other_service;
  Principal who;

  db::PgPool& pg() { return *db.pool; }
  RateLimiterOptions options(std::chrono::milliseconds lease_ttl = std::chrono::milliseconds(60000)) const {
    RateLimiterOptions o;
    o.policy_ttl = std::chrono::milliseconds(0);  // every admit sees the database
    o.lease_ttl = lease_ttl;
    o.key_prefix = prefix;
    return o;
  }
  void set(const std::string& table, const std::string& id, const std::string& assignments) {
    sql_one(pg(), "UPDATE " + table + " SET " + assignments + " WHERE id = " + quote(id) + " RETURNING id");
  }
};

std::optional<World> make_world() {
  auto db = db::testing::make_test_database();
  if (!db) return std::nullopt;
  auto url = redis::testing::redis_url_for_tests();
  if (!url) return std::nullopt;
  World w{std::move(*db), *url, "t:" + redis::testing::unique_key_prefix(), {}, {}, {}, {}, {}};
  w.tenant = add_tenant(w.pg(), "acme");
  w.key_id = add_api_key(w.pg(), w.tenant, "scn-key-limits-test-0001");
  w.service = add_service(w.pg(), w.tenant, "stories");
  w.other_service = add_service(w.pg(), w.tenant, "other");
  w.who.kind = Principal::Kind::kApiKey;
  w.who.tenant_id = w.tenant;
  w.who.api_key_id = w.key_id;
  w.who.username = "test";
  return w;
}

boost::json::object error_of(const http::Response& r) {
  auto parsed = common::parse_json_object(r.body());
  REQUIRE_MESSAGE(parsed.is_ok(), r.body());
  return parsed->at("error").as_object();
}

TEST_CASE("rate limiter: no limits, no Redis call, no headers") {
  auto w = make_world();
  if (!w) return;
  RateLimiter limiter(w->pg(), "redis://127.0.0.1:1/0", w->options());  // Redis unreachable: never asked
  http::Response r;
  Admission a = limiter.admit(w->who, w->service, body(R"({"prompt":"x"})"), r);
  CHECK(a.admitted());
  CHECK(!r.headers().has("x-ratelimit-limit-requests"));
  CHECK(!r.headers().has("x-ratelimit-limit-tokens"));
}

TEST_CASE("rate limiter: requests per minute of a key, shared by two brokers") {
  auto w = make_world();
  if (!w) return;
  w->set("api_keys", w->key_id, "limit_requests_per_minute = 4");
  RateLimiter a(w->pg(), w->redis_url, w->options()), b(w->pg(), w->redis_url, w->options());
  for (int i = 0; i < 4; ++i) {
    http::Response r;
    Admission adm = (i % 2 ? b : a).admit(w->who, w->service, body("{}"), r);
    CHECK(adm.admitted());
    CHECK(r.headers().get_or("x-ratelimit-limit-requests", "") == "4");
    CHECK(r.headers().get_or("x-ratelimit-remaining-requests", "") == std::to_string(3 - i));
    CHECK(!r.headers().get_or("x-ratelimit-reset-requests", "").empty());
    CHECK(!r.headers().has("x-ratelimit-limit-tokens"));  // no token limit
  }
  for (RateLimiter* l : {&a, &b}) {
    http::Response r;
    Admission adm = l->admit(w->who, w->service, body("{}"), r);
    CHECK(!adm.admitted());
    CHECK(r.status() == 429);
    auto e = error_of(r);
    CHECK(e.at("type").as_string() == "rate_limit_exceeded");
    CHECK(e.at("code").as_string() == "rate_limit_exceeded");
    CHECK(e.at("param").is_null());
    CHECK(std::string(e.at("message").as_string()).find("requests per minute") != std::string::npos);
    CHECK(r.headers().get_or("x-ratelimit-remaining-requests", "") == "0");
    const int retry = std::stoi(r.headers().get_or("retry-after", "0"));
    CHECK(retry >= 1);
    CHECK(retry <= 15);  // one request refills in 15 s at 4/min
  }
  // The tenant is not limited: another key of it is not either.
  Principal other = w->who;
  other.api_key_id = add_api_key(w->pg(), w->tenant, "scn-key-limits-test-0002");
  http::Response r;
  CHECK(a.admit(other, w->service, body("{}"), r).admitted());
}

TEST_CASE("rate limiter: tokens per minute reserve max_tokens and settle to the real usage") {
  auto w = make_world();
  if (!w) return;
  w->set("tenants", w->tenant, "limit_tokens_per_minute = 1000");
  RateLimiter limiter(w->pg(), w->redis_url, w->options());
  const auto big = body(R"({"prompt":"abcd","max_tokens":600})");  // reserves 601
  {
    http::Response r;
    Admission adm = limiter.admit(w->who, w->service, big, r);
    REQUIRE(adm.admitted());
    CHECK(r.headers().get_or("x-ratelimit-limit-tokens", "") == "1000");
    CHECK(r.headers().get_or("x-ratelimit-remaining-tokens", "") == "399");
    http::Response r2;
    Admission refused = limiter.admit(w->who, w->service, big, r2);
    CHECK(!refused.admitted());
    CHECK(r2.status() == 429);
    CHECK(std::string(error_of(r2).at("message").as_string()).find("tokens per minute") != std::string::npos);
    adm.settle(11);  // 590 of 601 come back
  }
  http::Response r3;
  Admission again = limiter.admit(w->who, w->service, big, r3);
  CHECK(again.admitted());
  const int remaining = std::stoi(r3.headers().get_or("x-ratelimit-remaining-tokens", "-1"));
  CHECK(remaining >= 1000 - 11 - 601);
  CHECK(remaining <= 1000 - 11 - 601 + 5);  // a few tokens refilled meanwhile
  // An unsettled admission (no replica answered) gives everything back.
  { Admission dropped = std::move(again); }
  http::Response r4;
  CHECK(limiter.admit(w->who, w->service, big, r4).admitted());
}

TEST_CASE("rate limiter: concurrent requests, leases renewed and expiring") {
  auto w = make_world();
  if (!w) return;
  w->set("api_keys", w->key_id, "limit_concurrent_requests = 2");
  RateLimiter a(w->pg(), w->redis_url, w->options(std::chrono::milliseconds(300)));
  RateLimiter b(w->pg(), w->redis_url, w->options(std::chrono::milliseconds(300)));
  http::Response r1, r2, r3;
  Admission first = a.admit(w->who, w->service, body("{}"), r1);
  Admission second = a.admit(w->who, w->service, body("{}"), r2);
  REQUIRE(first.admitted());
  REQUIRE(second.admitted());
  // Held for 3 lease times: renewal keeps both slots taken for broker b.
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  Admission third = b.admit(w->who, w->service, body("{}"), r3);
  CHECK(!third.admitted());
  CHECK(r3.status() == 429);
  CHECK(std::string(error_of(r3).at("message").as_string()).find("concurrent requests") != std::string::npos);
  first.settle(0);
  http::Response r4;
  CHECK(b.admit(w->who, w->service, body("{}"), r4).admitted());

  // A crashed broker's lease (never renewed, never released) frees its slot
  // after the lease time.
  auto redis = redis::RedisClient::connect(w->redis_url);
  REQUIRE(redis.is_ok());
  const std::string conc = w->prefix + "rl:k:" + w->key_id + ":conc";
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE((*redis)->command({"ZADD", conc, std::to_string(now_ms + 400), "crashed-broker-lease"}).is_ok());
  http::Response r5;
  CHECK(!b.admit(w->who, w->service, body("{}"), r5).admitted());  // second + crashed one
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  http::Response r6;
  CHECK(b.admit(w->who, w->service, body("{}"), r6).admitted());
  auto ttl = (*redis)->pttl(conc);
  REQUIRE(ttl.is_ok());
  CHECK(*ttl > 0);  // keys always carry a TTL
}

TEST_CASE("rate limiter: monthly token budget answers insufficient_quota") {
  auto w = make_world();
  if (!w) return;
  w->set("tenants", w->tenant, "limit_monthly_tokens = 100");
  RateLimiter limiter(w->pg(), w->redis_url, w->options());
  const auto req = body(R"({"prompt":[1,2],"max_tokens":48})");  // reserves 50
  {
    http::Response r;
    Admission adm = limiter.admit(w->who, w->service, req, r);
    REQUIRE(adm.admitted());
    adm.settle(80);
  }
  {
    http::Response r;
    Admission adm = limiter.admit(w->who, w->service, req, r);
    REQUIRE(adm.admitted());  // 80 < 100
    adm.settle(30);
  }
  auto redis = redis::RedisClient::connect(w->redis_url);
  REQUIRE(redis.is_ok());
  auto used = monthly_tokens_used(**redis, w->prefix, "t", w->tenant);
  REQUIRE(used.is_ok());
  CHECK(*used == 110);
  http::Response r;
  CHECK(!limiter.admit(w->who, w->service, req, r).admitted());
  CHECK(r.status() == 429);
  auto e = error_of(r);
  CHECK(e.at("type").as_string() == "insufficient_quota");
  CHECK(e.at("code").as_string() == "insufficient_quota");
  CHECK(r.headers().get_or("x-should-retry", "") == "false");
  CHECK(std::stoll(r.headers().get_or("retry-after", "0")) >= 1);
  // Raising the budget lets requests in again.
  w->set("tenants", w->tenant, "limit_monthly_tokens = 1000");
  http::Response r2;
  CHECK(limiter.admit(w->who, w->service, req, r2).admitted());
}

TEST_CASE("rate limiter: a key scoped to some services gets 404 for the others") {
  auto w = make_world();
  if (!w) return;
  RateLimiter limiter(w->pg(), w->redis_url, w->options());
  w->set("api_keys", w->key_id, "service_ids = ARRAY[" + quote(w->service) + "]::uuid[]");
  http::Response ok, refused;
  CHECK(limiter.admit(w->who, w->service, body("{}"), ok).admitted());
  CHECK(!limiter.admit(w->who, w->other_service, body("{}"), refused).admitted());
  CHECK(refused.status() == 404);
  CHECK(error_of(refused).at("code").as_string() == "model_not_found");
  CHECK(limiter.may_use(w->who, w->service));
  CHECK(!limiter.may_use(w->who, w->other_service));
  REQUIRE(limiter.service_scope(w->who));
  CHECK(limiter.service_scope(w->who)->size() == 1);
}

TEST_CASE("rate limiter: Redis down admits without limits (fail open)") {
  auto w = make_world();
  if (!w) return;
  w->set("api_keys", w->key_id, "limit_requests_per_minute = 1");
  RateLimiter limiter(w->pg(), "redis://127.0.0.1:" + std::to_string(scn::testing::free_port()) + "/0",
                      w->options());
  for (int i = 0; i < 3; ++i) {
    http::Response r;
    CHECK(limiter.admit(w->who, w->service, body("{}"), r).admitted());
  }
}

}  // namespace
}  // namespace scn::broker::limits
