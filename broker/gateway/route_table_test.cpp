#include "broker/gateway/route_table.h"

#include <doctest/doctest.h>

#include <thread>

#include "broker/gateway/gateway_test_fixture.h"
#include "common/db/test_db.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;

std::vector<std::string> urls(const std::vector<Endpoint>& eps) {
  std::vector<std::string> out;
  for (const auto& e : eps) out.push_back(e.url);
  std::sort(out.begin(), out.end());
  return out;
}

template <typename F>
bool eventually(F&& f, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

}  // namespace

TEST_CASE("parse_routes_json") {
  auto ok = parse_routes_json(
      R"({"service_id":"s","tenant_id":"t","name":"m","endpoints":[{"replica_id":"r","node_id":"n","center_id":"c","url":"http://127.0.0.1:1"}]})");
  REQUIRE(ok.is_ok());
  REQUIRE(ok->size() == 1);
  CHECK((*ok)[0].url == "http://127.0.0.1:1");
  CHECK((*ok)[0].replica_id == "r");
  CHECK(parse_routes_json(R"({"endpoints":[]})")->empty());
  CHECK(parse_routes_json(R"({"service_id":"s"})")->empty());
  for (const char* bad : {"", "[]", "{\"endpoints\":3}", "{\"endpoints\":[1]}", "{\"endpoints\":[{}]}",
                          "{\"endpoints\":[{\"url\":\"ftp://x\"}]}"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_routes_json(bad).is_ok());
  }
}

TEST_CASE("RouteTable: services per tenant, endpoints from Redis or PostgreSQL, invalidation") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return;
  auto redis = redis::RedisClient::connect(*redis_url);
  REQUIRE(redis.is_ok());
  db::PgPool& pg = **db;

  const std::string a = add_tenant(pg, "tenant-a");
  const std::string b = add_tenant(pg, "tenant-b");
  const std::string svc = add_service(pg, a, "chat");
  const std::string gone = add_service(pg, a, "old");
  sql_one(pg, "UPDATE services SET status = 'deleted', deleted_at = now() WHERE id = " + quote(gone) + " RETURNING id");
  const std::string n_ready = add_node(pg, "n1");
  const std::string n_drain = add_node(pg, "n2", "draining");
  const std::string n_lost = add_node(pg, "n3", "lost");
  add_replica(pg, svc, n_ready, 20001);
  add_replica(pg, svc, n_drain, 20002);
  add_replica(pg, svc, n_lost, 20003);
  add_replica(pg, svc, n_ready, 20004, "starting");

  RouteTable table(pg, **redis, *redis_url, std::chrono::milliseconds(60000));

  auto found = table.find_service(a, "chat");
  REQUIRE(found.is_ok());
  CHECK(found->id == svc);
  CHECK(found->tenant_id == a);
  CHECK(table.find_service(b, "chat").status().code() == Code::kNotFound);
  CHECK(table.find_service(a, "old").status().code() == Code::kNotFound);
  CHECK(table.find_service(a, "nope").status().code() == Code::kNotFound);

  // No Redis key: PostgreSQL (ready replicas on ready or draining nodes).
  (void)(*redis)->del({routes_key(svc)});
  auto eps = table.endpoints(svc);
  REQUIRE(eps.is_ok());
  CHECK(urls(*eps) == std::vector<std::string>{"http://127.0.0.1:20001", "http://127.0.0.1:20002"});

  // Cached: a new key is not seen until the service is invalidated.
  REQUIRE((*redis)->set(routes_key(svc), R"({"service_id":")" + svc +
                                             R"(","endpoints":[{"replica_id":"x","url":"http://127.0.0.1:29999"}]})")
              .is_ok());
  CHECK(urls(*table.endpoints(svc)).size() == 2);
  table.invalidate(svc);
  CHECK(urls(*table.endpoints(svc)) == std::vector<std::string>{"http://127.0.0.1:29999"});

  // Through pub/sub.
  REQUIRE(table.start().is_ok());
  REQUIRE(eventually([&] { return table.subscribed(); }));
  // (Subscribing cleared the cache; fill it again.)
  CHECK(urls(*table.endpoints(svc)) == std::vector<std::string>{"http://127.0.0.1:29999"});
  REQUIRE((*redis)->set(routes_key(svc), R"({"endpoints":[{"url":"http://127.0.0.1:29998"}]})").is_ok());
  CHECK(urls(*table.endpoints(svc)) == std::vector<std::string>{"http://127.0.0.1:29999"});
  REQUIRE((*redis)->publish(kRoutesChannel, svc).is_ok());
  CHECK(eventually([&] {
    return urls(*table.endpoints(svc)) == std::vector<std::string>{"http://127.0.0.1:29998"};
  }));

  // A malformed key falls back to PostgreSQL.
  REQUIRE((*redis)->set(routes_key(svc), "garbage").is_ok());
  table.invalidate(svc);
  CHECK(urls(*table.endpoints(svc)).size() == 2);
  // An empty endpoint list in Redis means no ready replica.
  REQUIRE((*redis)->set(routes_key(svc), R"({"endpoints":[]})").is_ok());
  table.invalidate(svc);
  CHECK(table.endpoints(svc)->empty());
  (void)(*redis)->del({routes_key(svc)});
  table.stop();
}

TEST_CASE("RouteTable: PostgreSQL when Redis fails") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return;
  auto redis = redis::RedisClient::connect(*redis_url);
  REQUIRE(redis.is_ok());
  db::PgPool& pg = **db;
  const std::string a = add_tenant(pg, "tenant-a");
  const std::string svc = add_service(pg, a, "chat");
  add_replica(pg, svc, add_node(pg, "n1"), 20001);
  // GET on a list fails (WRONGTYPE): the routes come from PostgreSQL.
  REQUIRE((*redis)->command({"RPUSH", routes_key(svc), "x"}).is_ok());
  RouteTable table(pg, **redis, *redis_url, std::chrono::milliseconds(0));
  auto eps = table.endpoints(svc);
  REQUIRE(eps.is_ok());
  CHECK(urls(*eps) == std::vector<std::string>{"http://127.0.0.1:20001"});
  (void)(*redis)->del({routes_key(svc)});
}

}  // namespace scn::broker
