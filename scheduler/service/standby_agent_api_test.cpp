// A standby scheduler serves the agents' API (docs/API.md, "scn scheduler —
// agents' API"): registration and heartbeats sent to the standby are applied
// in PostgreSQL like the leader's, the leader places on the node the standby
// registered, and the standby hands the node its desired set — which is why
// an agent given several scheduler URLs may stay with whichever answers.
#include <doctest/doctest.h>

#include <thread>

#include "common/http/client.h"
#include "scheduler/service/scheduler_service.h"
#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using namespace std::chrono_literals;

std::unique_ptr<SchedulerService> start_instance(Env& env, metrics::Registry& registry) {
  SchedulerOptions o;
  o.pg_url = env.db->db->url();
  o.redis_url = env.redis_server->url();
  o.port = 0;
  o.worker_threads = 2;
  o.config.loop = 100ms;
  o.config.heartbeat = 200ms;
  o.config.node_ttl = 3000ms;
  auto s = SchedulerService::start(o, registry);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return std::move(s).value();
}

std::string url(const SchedulerService& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + path;
}

TEST_CASE("standby: registration and heartbeats sent to the standby count; the leader places on that node") {
  auto env = make_env();
  if (!env) return;
  metrics::Registry reg_leader, reg_standby;
  auto leader = start_instance(*env, reg_leader);
  for (int i = 0; i < 100 && !leader->is_leader(); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(leader->is_leader());
  auto standby = start_instance(*env, reg_standby);
  std::this_thread::sleep_for(1200ms);  // the standby has tried the lock
  REQUIRE(!standby->is_leader());

  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center);
  const std::string tenant = add_tenant(env->pool(), "acme");
  const std::string file = add_model_file(env->pool());

  auto reg = http::request("POST", url(*standby, "/agent/v1/register"), register_body(token, "node-1"),
                           {{"Content-Type", "application/json"}});
  REQUIRE(reg.is_ok());
  REQUIRE_MESSAGE(reg->status == 201, reg->body);
  auto creds = common::parse_json_object(reg->body);
  REQUIRE(creds.is_ok());
  const std::string node = std::string(creds->at("node_id").as_string());
  const std::string secret = std::string(creds->at("node_secret").as_string());
  CHECK(one(env->pool(), "SELECT status FROM nodes WHERE id = " + q(node)) == "ready");

  auto beat = [&] {
    auto r = http::request("POST", url(*standby, "/agent/v1/heartbeat"),
                           R"({"node_id":")" + node + R"(","free":{},"replicas":[]})",
                           {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + secret}});
    REQUIRE(r.is_ok());
    REQUIRE_MESSAGE(r->status == 200, r->body);
    auto o = common::parse_json_object(r->body);
    REQUIRE(o.is_ok());
    return *o;
  };
  beat();
  CHECK(one(env->pool(), "SELECT (last_heartbeat_at > now() - interval '5 seconds')::text FROM nodes") == "true");
  auto alive = env->redis->get(node_alive_key(node));
  REQUIRE(alive.is_ok());
  CHECK(alive->has_value());

  // The leader places the service's replica on the node; the standby's
  // heartbeat answer carries it as desired.
  add_service(env->pool(), tenant, file, "chat", 1, R"({"device_kind":"cpu"})");
  leader->wake();
  std::vector<std::string> desired;
  for (int i = 0; i < 100 && desired.empty(); ++i) {
    desired = desired_ids(beat());
    if (desired.empty()) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(desired.size() == 1);
  CHECK(one(env->pool(), "SELECT state || ':' || bound_epoch FROM replicas") ==
        "scheduled:" + std::to_string(leader->epoch()));
  // The standby's reported state is applied as the leader's would be.
  auto r = http::request("POST", url(*standby, "/agent/v1/heartbeat"),
                         R"({"node_id":")" + node + R"(","free":{},"replicas":[)" +
                             replica_json(desired[0], "ready", 21001) + "]}",
                         {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + secret}});
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(one(env->pool(), "SELECT state || ':' || port FROM replicas") == "ready:21001");
  CHECK(standby->epoch() == 0);
  CHECK(!standby->is_leader());
}

}  // namespace
}  // namespace scn::scheduler
