#include "scheduler/service/reconciler.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using std::chrono::milliseconds;

// Collects what is published on `scn:routes`.
struct RouteListener {
  explicit RouteListener(const std::string& url) {
    auto s = redis::RedisSubscriber::create(url);
    REQUIRE(s.is_ok());
    sub = std::move(s).value();
    thread = std::thread([this] {
      (void)sub->run({std::string(kRoutesChannel)}, {},
                     [this](const redis::PubSubMessage& m) {
                       std::lock_guard<std::mutex> l(mu);
                       messages.push_back(m.payload);
                     },
                     [this] { subscribed = true; });
    });
    for (int i = 0; i < 200 && !subscribed; ++i) std::this_thread::sleep_for(milliseconds(10));
    REQUIRE(subscribed.load());
  }
  ~RouteListener() {
    sub->stop();
    thread.join();
  }
  bool got(const std::string& id) {
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard<std::mutex> l(mu);
        for (const auto& m : messages)
          if (m == id) return true;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }
  std::unique_ptr<redis::RedisSubscriber> sub;
  std::thread thread;
  std::atomic<bool> subscribed{false};
  std::mutex mu;
  std::vector<std::string> messages;
};

TEST_CASE("cycle: 2 replicas placed on two nodes, run, become ready, routed; scale down stops one") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 2, R"({"device_kind":"cpu","cpu_threads":2})");
  RouteListener listener(env->redis_server->url());
  env->reconciler->became_leader();

  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.failed_steps == 0);
  CHECK(r.counts.created == 2);
  CHECK(r.placement.placed == 2);
  CHECK(one(env->pool(), "SELECT count(DISTINCT node_id) FROM replicas WHERE state = 'scheduled'") == "2");
  CHECK(one(env->pool(), "SELECT min(cpu_threads) || ':' || (min(memory_bytes) > 1185376)::text FROM replicas") == "2:true");
  CHECK(one(env->pool(), "SELECT bool_and(reason LIKE '%spread%' AND scheduled_at IS NOT NULL) FROM replicas") == "t");
  CHECK(one(env->pool(), "SELECT status FROM services") == "starting");
  CHECK(env->metrics.placements.value() == 2);

  const std::string r1 = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n1));
  const std::string r2 = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n2));
  auto a1 = heartbeat(*env, p.n1, p.s1);
  REQUIRE(desired_ids(a1) == std::vector<std::string>{r1});
  const auto& d = a1.at("replicas").as_array()[0].as_object();
  CHECK(d.at("service_id").as_string() == svc);
  CHECK(d.at("service_name").as_string() == "chat");
  CHECK(d.at("port").is_null());
  CHECK(d.at("cpu_threads").as_int64() == 2);
  CHECK(d.at("context_length").as_int64() == 256);
  CHECK(d.at("gpu_indices").as_array().empty());
  CHECK(d.at("model").as_object().at("model_file_id").as_string() == p.file);
  CHECK(d.at("model").as_object().at("file_name").as_string() == "stories260K.gguf");
  CHECK(d.at("model").as_object().at("uri").as_string() == "file:///models/stories260K.gguf");
  CHECK(d.at("model").as_object().at("size_bytes").as_int64() == 1185376);

  heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "starting", 21001) + "]");
  CHECK(one(env->pool(), "SELECT state || ':' || port || ':' || (started_at IS NOT NULL) FROM replicas WHERE id = " + q(r1)) == "starting:21001:true");
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "ready", 21001) + "]");
  CHECK(one(env->pool(), "SELECT state || ':' || (ready_at IS NOT NULL) FROM replicas WHERE id = " + q(r1)) == "ready:true");
  // The "why here" of the binding outlives the agent's reports (replicas.placement).
  CHECK(one(env->pool(), "SELECT placement FROM replicas WHERE id = " + q(r1)).find("score") != std::string::npos);
  CHECK(listener.got(svc));
  auto doc = common::parse_json_object(env->redis->get(routes_key(svc))->value_or("{}"));
  REQUIRE(doc.is_ok());
  CHECK(doc->at("name").as_string() == "chat");
  CHECK(doc->at("tenant_id").as_string() == p.tenant);
  REQUIRE(doc->at("endpoints").as_array().size() == 1);
  const auto& ep = doc->at("endpoints").as_array()[0].as_object();
  CHECK(ep.at("url").as_string() == "http://127.0.0.1:21001");
  CHECK(ep.at("replica_id").as_string() == r1);
  CHECK(ep.at("center_id").as_string() == p.center_a);

  env->reconciler->run_cycle();
  CHECK(one(env->pool(), "SELECT status || ': ' || status_reason FROM services") == "degraded: 1 of 2 replicas ready");
  heartbeat(*env, p.n2, p.s2, "[" + replica_json(r2, "ready", 21001) + "]");
  r = env->reconciler->run_cycle();
  CHECK(r.route_changes == 0);  // the heartbeat already wrote them
  CHECK(one(env->pool(), "SELECT status || ':' || coalesce(status_reason, '-') FROM services") == "ready:-");
  doc = common::parse_json_object(env->redis->get(routes_key(svc))->value_or("{}"));
  CHECK(doc->at("endpoints").as_array().size() == 2);

  // Scale down to 1: the newest becomes stopping, leaves the desired set and stops.
  one(env->pool(), "UPDATE services SET replicas_wanted = 1 RETURNING id");
  r = env->reconciler->run_cycle();
  CHECK(r.counts.stopping == 1);
  const std::string stopping = one(env->pool(), "SELECT id FROM replicas WHERE state = 'stopping'");
  const bool on1 = stopping == r1;
  const std::string node = on1 ? p.n1 : p.n2, secret = on1 ? p.s1 : p.s2;
  auto a = heartbeat(*env, node, secret, "[" + replica_json(stopping, "ready", 21001) + "]");
  CHECK(desired_ids(a).empty());
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(stopping)) == "stopping");
  heartbeat(*env, node, secret, "[]");
  CHECK(one(env->pool(), "SELECT state || ':' || (stopped_at IS NOT NULL) FROM replicas WHERE id = " + q(stopping)) == "stopped:true");
  env->reconciler->run_cycle();
  doc = common::parse_json_object(env->redis->get(routes_key(svc))->value_or("{}"));
  CHECK(doc->at("endpoints").as_array().size() == 1);
  CHECK(one(env->pool(), "SELECT status FROM services") == "ready");

  // A stopped replica is never revived by a late report.
  heartbeat(*env, node, secret, "[" + replica_json(stopping, "ready", 21001) + "]");
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(stopping)) == "stopped");

  // Stop the service: every live replica stops; deleting drops the route key.
  one(env->pool(), "UPDATE services SET status = 'stopped', replicas_wanted = 0 RETURNING id");
  r = env->reconciler->run_cycle();
  CHECK(r.counts.stopping == 1);
  one(env->pool(), "UPDATE services SET status = 'deleted', deleted_at = now() RETURNING id");
  env->reconciler->run_cycle();
  CHECK(!env->redis->get(routes_key(svc))->has_value());
}

TEST_CASE("heartbeat: a running replica the agent no longer reports goes back to scheduled") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n2) + " RETURNING id");
  const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 2, R"({"device_kind":"cpu"})");
  env->reconciler->became_leader();
  CHECK(env->reconciler->run_cycle().placement.placed == 2);
  const std::string ra = one(env->pool(), "SELECT min(id::text) FROM replicas");
  const std::string rb = one(env->pool(), "SELECT max(id::text) FROM replicas");
  // Both claim port 21001: the second does not get it (one live replica per port).
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(ra, "ready", 21001) + "," + replica_json(rb, "ready", 21001) + "]");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE port = 21001") == "1");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state = 'ready'") == "2");
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(rb, "ready", 21002) + "]");
  CHECK(one(env->pool(), "SELECT state || ':' || coalesce(port::text, '-') || ':' || reason FROM replicas WHERE id = " + q(ra)) ==
        "scheduled:-:not reported by the agent");
  auto doc = common::parse_json_object(env->redis->get(routes_key(svc))->value_or("{}"));
  REQUIRE(doc.is_ok());
  REQUIRE(doc->at("endpoints").as_array().size() == 1);
  CHECK(doc->at("endpoints").as_array()[0].as_object().at("url").as_string() == "http://127.0.0.1:21002");
}

TEST_CASE("cycle: a lost node's replicas are lost and replaced on another node") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  // Only node-1 can take it first (node-2 draining).
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n2) + " RETURNING id");
  add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
  env->reconciler->became_leader(std::chrono::steady_clock::now() - env->config.node_ttl);
  env->reconciler->run_cycle();
  const std::string r1 = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n1));
  REQUIRE(!r1.empty());
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "ready", 21001) + "]");
  one(env->pool(), "UPDATE nodes SET status = 'ready' WHERE id = " + q(p.n2) + " RETURNING id");

  // node-1 goes silent; node-2 keeps beating past the TTL.
  for (int i = 0; i < 8; ++i) {
    heartbeat(*env, p.n2, p.s2);
    std::this_thread::sleep_for(milliseconds(100));
  }
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.loss_checked);
  CHECK(r.lost_nodes == 1);
  CHECK(one(env->pool(), "SELECT status FROM nodes WHERE id = " + q(p.n1)) == "lost");
  CHECK(one(env->pool(), "SELECT state || ':' || reason || ':' || (stopped_at IS NOT NULL) FROM replicas WHERE id = " + q(r1)) ==
        "lost:node lost:true");
  CHECK(r.counts.created == 1);
  CHECK(r.placement.placed == 1);
  CHECK(one(env->pool(), "SELECT node_id FROM replicas WHERE state = 'scheduled'") == p.n2);
  CHECK(env->metrics.lost_nodes.value() == 1);

  // node-1 comes back: ready again, but its old replica stays lost and is not desired.
  auto back = heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "ready", 21001) + "]");
  CHECK(back.at("node_status").as_string() == "ready");
  CHECK(desired_ids(back).empty());
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(r1)) == "lost");
}

TEST_CASE("cycle: FLUSHALL loses no node while heartbeats are recent, and routes are rebuilt") {
  auto env = make_env(milliseconds(3000));
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
  env->reconciler->became_leader(std::chrono::steady_clock::now() - env->config.node_ttl);
  env->reconciler->run_cycle();
  const std::string rid = one(env->pool(), "SELECT id FROM replicas");
  const std::string nid = one(env->pool(), "SELECT node_id FROM replicas");
  heartbeat(*env, nid, nid == p.n1 ? p.s1 : p.s2, "[" + replica_json(rid, "ready", 21001) + "]");
  REQUIRE(env->redis->get(routes_key(svc))->has_value());

  REQUIRE(env->redis->command({"FLUSHALL"}).is_ok());
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.loss_checked);
  CHECK(r.lost_nodes == 0);
  CHECK(one(env->pool(), "SELECT string_agg(status, ',') FROM nodes") == "ready,ready");
  CHECK(one(env->pool(), "SELECT state FROM replicas") == "ready");
  CHECK(r.route_changes == 1);
  auto doc = common::parse_json_object(env->redis->get(routes_key(svc))->value_or("{}"));
  REQUIRE(doc.is_ok());
  CHECK(doc->at("endpoints").as_array().size() == 1);
  // The next heartbeat rebuilds liveness.
  heartbeat(*env, p.n1, p.s1);
  CHECK(env->redis->get(node_alive_key(p.n1))->has_value());
}

TEST_CASE("cycle: no node is lost during the start-up grace of one TTL") {
  auto env = make_env(milliseconds(300));
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  std::this_thread::sleep_for(milliseconds(400));  // key expired, heartbeat old
  env->reconciler->became_leader();
  CycleReport r = env->reconciler->run_cycle();
  CHECK(!r.loss_checked);
  CHECK(one(env->pool(), "SELECT status FROM nodes WHERE id = " + q(p.n1)) == "ready");
  std::this_thread::sleep_for(milliseconds(350));
  r = env->reconciler->run_cycle();
  CHECK(r.loss_checked);
  CHECK(r.lost_nodes == 2);  // node-2 never beat after registering either
}

TEST_CASE("cycle: an unschedulable replica stays pending with its why-pending") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"gpu"})");
  const std::string other = add_tenant(env->pool(), "beta", "'{hubei}'");
  add_service(env->pool(), other, p.file, "chat", 1, R"({"regions":["guangdong"]})");
  env->reconciler->became_leader();
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.placement.unschedulable == 2);
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state = 'pending'") == "2");
  const std::string why = one(env->pool(), "SELECT r.reason FROM replicas r JOIN services s ON s.id = r.service_id "
                                           "WHERE s.tenant_id = " + q(p.tenant));
  CHECK(why.find("0/2 nodes") != std::string::npos);
  CHECK(one(env->pool(), "SELECT r.reason FROM replicas r JOIN services s ON s.id = r.service_id "
                         "WHERE s.tenant_id = " + q(other)) ==
        "none of the service's regions is allowed for the tenant");
  CHECK(one(env->pool(), "SELECT status FROM services WHERE tenant_id = " + q(p.tenant)) == "pending");
  CHECK(one(env->pool(), "SELECT status_reason FROM services WHERE tenant_id = " + q(p.tenant)) == why);
}

}  // namespace
}  // namespace scn::scheduler
