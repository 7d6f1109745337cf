#include "scheduler/service/scheduler_service.h"

#include <doctest/doctest.h>

#include <thread>

#include "common/http/client.h"
#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using std::chrono::milliseconds;

TEST_CASE("service: agents' API over HTTP, health, metrics, and the leader loop placing a replica") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center);
  const std::string tenant = add_tenant(env->pool(), "acme");
  const std::string file = add_model_file(env->pool());

  metrics::Registry registry;
  SchedulerOptions o;
  o.pg_url = env->db->db->url();
  o.redis_url = env->redis_server->url();
  o.port = 0;
  o.config.node_ttl = milliseconds(5000);
  o.config.loop = milliseconds(100);
  auto service = SchedulerService::start(o, registry);
  REQUIRE_MESSAGE(service.is_ok(), service.status().to_string());
  const std::string base = "http://127.0.0.1:" + std::to_string((*service)->port());

  auto reg = http::request("POST", base + "/agent/v1/register", register_body(token, "node-1"));
  REQUIRE(reg.is_ok());
  REQUIRE_MESSAGE(reg->status == 201, reg->body);
  auto body = common::parse_json_object(reg->body);
  REQUIRE(body.is_ok());
  const std::string node = std::string(body->at("node_id").as_string());
  const std::string secret = std::string(body->at("node_secret").as_string());
  CHECK(body->at("heartbeat_ms").as_int64() == 2000);

  auto dup = http::request("POST", base + "/agent/v1/register", register_body(token, "node-1"));
  CHECK(dup->status == 409);
  auto bad = http::request("POST", base + "/agent/v1/register", "{");
  CHECK(bad->status == 400);
  CHECK(bad->body.find("\"error\"") != std::string::npos);
  auto noauth = http::request("POST", base + "/agent/v1/heartbeat", "{}");
  CHECK(noauth->status == 401);

  // The leader loop creates and places the replica; a wake message makes it run at once.
  add_service(env->pool(), tenant, file, "chat", 1, R"({"device_kind":"cpu"})");
  REQUIRE(env->redis->publish(kWakeChannel, "x").is_ok());
  http::Headers auth{{"Authorization", "Bearer " + secret}};
  std::string desired;
  for (int i = 0; i < 100 && desired.find("replica_id") == std::string::npos; ++i) {
    auto hb = http::request("POST", base + "/agent/v1/heartbeat", R"({"node_id":")" + node + R"("})", auth);
    REQUIRE(hb.is_ok());
    REQUIRE_MESSAGE(hb->status == 200, hb->body);
    desired = hb->body;
    std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(desired.find("\"service_name\":\"chat\"") != std::string::npos);
  CHECK((*service)->is_leader());

  auto health = http::request("GET", base + "/health");
  CHECK(health->status == 200);
  CHECK(health->body.find("\"leader\":true") != std::string::npos);
  auto m = http::request("GET", base + "/metrics");
  CHECK(m->status == 200);
  CHECK(m->body.find("scn_scheduler_placements_total 1") != std::string::npos);
  CHECK(m->body.find("scn_scheduler_heartbeats_total") != std::string::npos);
  CHECK(m->body.find("scn_http_rejected_connections_total 0") != std::string::npos);

  one(env->pool(), "UPDATE nodes SET status = 'removed' RETURNING id");
  auto gone = http::request("POST", base + "/agent/v1/heartbeat", "{}", auth);
  CHECK(gone->status == 410);

  (*service)->stop();
  (*service)->wait();
  CHECK(!(*service)->is_leader());
}

}  // namespace
}  // namespace scn::scheduler
