#include "scheduler/service/binder.h"

#include <doctest/doctest.h>

#include "scheduler/service/lifecycle.h"
#include "scheduler/service/pool_loader.h"
#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;

TEST_CASE("bind: two schedulers deciding on one snapshot never double-book") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  auto [node, secret] = register_node(*env, add_join_token(env->pool(), center), "node-1");
  heartbeat(*env, node, secret);
  const std::string tenant = add_tenant(env->pool(), "acme");
  add_service(env->pool(), tenant, add_model_file(env->pool()), "chat", 2, R"({"device_kind":"cpu"})");
  REQUIRE(reconcile_replica_counts(env->pool()).is_ok());

  // Both "schedulers" read the same state.
  auto a = load_pool(env->pool(), env->redis.get(), env->config.node_ttl);
  auto b = load_pool(env->pool(), env->redis.get(), env->config.node_ttl);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  REQUIRE(a->pending.size() == 2);
  const PendingReplica& first = a->pending[0];
  Placement pa = place(a->snapshot, first.request);
  Placement pb = place(b->snapshot, b->pending[0].request);
  REQUIRE(pa.scheduled());
  REQUIRE(pb.scheduled());

  CHECK(bind_replica(env->pool(), bind_request(*a, first, *pa.decision, pa.why())).is_ok());
  // The same replica again, from the other scheduler: conflict, nothing written.
  Status again = bind_replica(env->pool(), bind_request(*b, b->pending[0], *pb.decision, "b"));
  CHECK(again.code() == Code::kConflict);
  // Another replica on the same node with B's stale node version: conflict too.
  Placement pb2 = place(b->snapshot, b->pending[1].request);
  REQUIRE(pb2.scheduled());
  Status stale = bind_replica(env->pool(), bind_request(*b, b->pending[1], *pb2.decision, "b"));
  CHECK(stale.code() == Code::kConflict);
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state = 'scheduled'") == "1");
  CHECK(one(env->pool(), "SELECT state || ':' || coalesce(reason, '-') FROM replicas WHERE id = " +
                             q(b->pending[1].replica_id)) == "pending:-");
  CHECK(one(env->pool(), "SELECT version FROM nodes") == "1");

  // A fresh snapshot sees the first bind and places the second.
  auto c = load_pool(env->pool(), env->redis.get(), env->config.node_ttl);
  REQUIRE(c.is_ok());
  REQUIRE(c->pending.size() == 1);
  const Node* n = c->snapshot.find_node(node);
  REQUIRE(n != nullptr);
  CHECK(n->free_cpu_cores == 7);
  Placement pc = place(c->snapshot, c->pending[0].request);
  REQUIRE(pc.scheduled());
  CHECK(bind_replica(env->pool(), bind_request(*c, c->pending[0], *pc.decision, pc.why())).is_ok());
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state = 'scheduled'") == "2");
}

TEST_CASE("bind: GPU replicas take one GPU, numbered within the devices row") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  auto r = env->api->register_node(register_body(
      add_join_token(env->pool(), center), "gpu-1",
      R"([{"kind":"cpu","model":"Xeon","memory_bytes":17179869184,"count":8},
          {"kind":"gpu","model":"A100","memory_bytes":2147483648,"count":1},
          {"kind":"gpu","model":"H200","memory_bytes":4294967296,"count":2}])"));
  REQUIRE(r.is_ok());
  heartbeat(*env, r->node_id, r->node_secret);
  const std::string tenant = add_tenant(env->pool(), "acme");
  add_service(env->pool(), tenant, add_model_file(env->pool()), "chat", 3,
              R"({"device_kind":"gpu","device_models":["h200"]})");
  env->reconciler->became_leader();
  CycleReport c = env->reconciler->run_cycle();
  CHECK(c.placement.placed == 3);
  CHECK(one(env->pool(), "SELECT string_agg(DISTINCT d.model, ',') FROM replicas r JOIN devices d ON d.id = r.device_id") == "H200");
  CHECK(one(env->pool(), "SELECT bool_and(device_indices <@ '{0,1}' AND cardinality(device_indices) = 1) FROM replicas") == "t");
  auto answer = heartbeat(*env, r->node_id, r->node_secret);
  for (const auto& d : answer.at("replicas").as_array()) {
    const auto& g = d.as_object().at("gpu_indices").as_array();
    REQUIRE(g.size() == 1);
    CHECK(g[0].as_int64() >= 1);  // GPU 0 is the A100 (first GPU row)
  }
}

}  // namespace
}  // namespace scn::scheduler
