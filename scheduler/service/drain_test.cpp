// Draining a node, make-before-break, and a lost node that comes back.
#include <doctest/doctest.h>

#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using std::chrono::milliseconds;

std::string state_of(Env& env, const std::string& replica) {
  return one(env.pool(), "SELECT state FROM replicas WHERE id = " + q(replica));
}

TEST_CASE("drain: the replacement starts elsewhere first; the old replica stops once it is ready") {
  auto env = make_env(std::chrono::seconds(30));
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n2) + " RETURNING id");
  add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
  REQUIRE(env->reconciler->became_leader().is_ok());
  env->reconciler->run_cycle();
  const std::string old_id = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n1));
  REQUIRE(!old_id.empty());
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(old_id, "ready", 21001) + "]");
  one(env->pool(), "UPDATE nodes SET status = 'ready' WHERE id = " + q(p.n2) + " RETURNING id");
  heartbeat(*env, p.n2, p.s2);

  // Drain node-1: a replacement is created and placed on node-2; the old one keeps serving.
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n1) + " RETURNING id");
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.counts.created == 1);
  CHECK(r.counts.migrated == 0);
  CHECK(r.placement.placed == 1);
  CHECK(state_of(*env, old_id) == "ready");
  CHECK(one(env->pool(), "SELECT reason FROM replicas WHERE id = " + q(old_id)) == "migrating: node draining");
  const std::string new_id = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n2));
  REQUIRE(!new_id.empty());
  // Still starting: the old one is not stopped, and no further replica is created.
  heartbeat(*env, p.n2, p.s2, "[" + replica_json(new_id, "starting", 21002) + "]");
  r = env->reconciler->run_cycle();
  CHECK(r.counts.created == 0);
  CHECK(r.counts.migrated == 0);
  CHECK(state_of(*env, old_id) == "ready");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas") == "2");

  // The replacement is ready: now the old one stops and leaves node-1's desired set.
  heartbeat(*env, p.n2, p.s2, "[" + replica_json(new_id, "ready", 21002) + "]");
  r = env->reconciler->run_cycle();
  CHECK(r.counts.migrated == 1);
  CHECK(state_of(*env, old_id) == "stopping");
  CHECK(one(env->pool(), "SELECT reason FROM replicas WHERE id = " + q(old_id)) == "moved off a draining node");
  auto answer = heartbeat(*env, p.n1, p.s1, "[" + replica_json(old_id, "ready", 21001) + "]");
  CHECK(desired_ids(answer).empty());
  heartbeat(*env, p.n1, p.s1, "[]");
  CHECK(state_of(*env, old_id) == "stopped");
  CHECK(one(env->pool(), "SELECT status FROM services") == "ready");
}

TEST_CASE("drain: a replica on a draining node that serves nothing stops at once; undrain keeps wanted") {
  auto env = make_env(std::chrono::seconds(30));
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  add_service(env->pool(), p.tenant, p.file, "chat", 2, R"({"device_kind":"cpu"})");
  REQUIRE(env->reconciler->became_leader().is_ok());
  env->reconciler->run_cycle();
  const std::string on1 = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n1));
  const std::string on2 = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n2));
  REQUIRE(!on1.empty());
  REQUIRE(!on2.empty());
  heartbeat(*env, p.n2, p.s2, "[" + replica_json(on2, "ready", 21002) + "]");
  // node-1's replica is still starting when node-1 drains: it stops at once.
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(on1, "starting", 21001) + "]");
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n1) + " RETURNING id");
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.counts.migrated == 1);
  CHECK(r.counts.created == 1);
  CHECK(state_of(*env, on1) == "stopping");
  CHECK(one(env->pool(), "SELECT reason FROM replicas WHERE id = " + q(on1)) == "node draining");
  // The replacement lands on node-2 (node-1 drains).
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE node_id = " + q(p.n2) +
                             " AND state IN ('scheduled', 'ready')") == "2");
}

TEST_CASE("lost node comes back: its stale replica is not desired and no duplicate is created") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n2) + " RETURNING id");
  add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
  REQUIRE(env->reconciler->became_leader(std::chrono::steady_clock::now() - env->config.node_ttl).is_ok());
  env->reconciler->run_cycle();
  const std::string r1 = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(p.n1));
  REQUIRE(!r1.empty());
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "ready", 21001) + "]");
  one(env->pool(), "UPDATE nodes SET status = 'ready' WHERE id = " + q(p.n2) + " RETURNING id");
  for (int i = 0; i < 8; ++i) {  // node-1 silent past the TTL
    heartbeat(*env, p.n2, p.s2);
    std::this_thread::sleep_for(milliseconds(100));
  }
  CycleReport r = env->reconciler->run_cycle();
  REQUIRE(r.lost_nodes == 1);
  const std::string r2 = one(env->pool(), "SELECT id FROM replicas WHERE state = 'scheduled'");
  REQUIRE(!r2.empty());
  heartbeat(*env, p.n2, p.s2, "[" + replica_json(r2, "ready", 21002) + "]");

  // node-1 comes back still running r1: it is told to run nothing, r1 stays lost.
  auto back = heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "ready", 21001) + "]");
  CHECK(back.at("node_status").as_string() == "ready");
  CHECK(desired_ids(back).empty());
  for (int i = 0; i < 3; ++i) {
    heartbeat(*env, p.n2, p.s2, "[" + replica_json(r2, "ready", 21002) + "]");
    r = env->reconciler->run_cycle();
    CHECK(r.counts.created == 0);
    heartbeat(*env, p.n1, p.s1, "[" + replica_json(r1, "ready", 21001) + "]");
  }
  CHECK(state_of(*env, r1) == "lost");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state IN "
                         "('pending', 'scheduled', 'starting', 'ready', 'failed')") == "1");
  // The route lists only the replacement.
  auto doc = common::parse_json_object(env->redis->get(routes_key(one(env->pool(), "SELECT id FROM services")))
                                           ->value_or("{}"));
  REQUIRE(doc.is_ok());
  REQUIRE(doc->at("endpoints").as_array().size() == 1);
  CHECK(doc->at("endpoints").as_array()[0].as_object().at("url").as_string() == "http://127.0.0.1:21002");
}

}  // namespace
}  // namespace scn::scheduler
