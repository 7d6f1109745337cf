// Slurm-managed nodes in the agents' API (issue 10): registration with
// managed_by/slurm, Slurm's state mapped to the node's status on heartbeats,
// replicas of a node Slurm reports down placed again, an unreachable
// controller changing nothing, and the free capacity the agent reports.
#include <doctest/doctest.h>

#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;

std::string slurm_register_body(const std::string& token, const std::string& name,
                                const std::string& extra) {
  return R"({"join_token":")" + token + R"(","name":")" + name +
         R"(","address":"login-1","devices":[{"kind":"cpu","model":"Xeon","memory_bytes":17179869184,"count":8}])" +
         extra + "}";
}

std::string slurm_extra(const std::string& node, const std::string& state) {
  return R"(,"managed_by":"slurm","slurm":{"node":")" + node +
         R"(","partition":"scn","state":")" + state + R"("})";
}

// A heartbeat with a slurm object; returns the answer's node_status.
std::string slurm_heartbeat(Env& env, const std::string& id, const std::string& secret,
                            const std::string& state, const std::string& reason = "",
                            const std::string& controller = "ok",
                            const std::string& replicas = "[]") {
  auto r = env.api->heartbeat("Bearer " + secret,
                              R"({"node_id":")" + id + R"(","free":{"cpu_cores":8,"ram_bytes":17179869184},"replicas":)" +
                                  replicas + R"(,"slurm":{"state":")" + state + R"(","reason":")" +
                                  reason + R"(","controller":")" + controller + R"("}})");
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  auto obj = common::parse_json_object(r->body);
  REQUIRE(obj.is_ok());
  return std::string(obj->at("node_status").as_string());
}

std::string node_status(Env& env, const std::string& id) {
  return one(env.pool(), "SELECT status || ' | ' || coalesce(status_reason, '-') FROM nodes WHERE id = " + q(id));
}

TEST_CASE("slurm register: managed_by and slurm are stored; Slurm's state sets the first status") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "hpc-1", "tianjin");
  const std::string token = add_join_token(env->pool(), center);
  struct Case {
    const char* name;
    const char* state;
    const char* status;
  };
  for (const Case& c : {Case{"cn01", "idle", "ready | -"}, Case{"cn02", "MIXED+DRAIN", "draining | slurm: drain: mixed+drain"},
                        Case{"cn03", "down*", "lost | slurm: down: down*"}}) {
    CAPTURE(c.name);
    auto r = env->api->register_node(slurm_register_body(token, c.name, slurm_extra(c.name, c.state)));
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(node_status(*env, r->node_id) == c.status);
    CHECK(one(env->pool(), "SELECT managed_by || ' ' || (slurm->>'node') || ' ' || (slurm->>'partition') || ' ' || "
                           "(slurm->>'controller') FROM nodes WHERE id = " + q(r->node_id)) ==
          std::string("slurm ") + c.name + " scn ok");
  }
  auto plain = env->api->register_node(register_body(token, "plain-1"));
  REQUIRE(plain.is_ok());
  CHECK(one(env->pool(), "SELECT managed_by || ' ' || (slurm IS NULL) FROM nodes WHERE id = " + q(plain->node_id)) ==
        "agent true");
  CHECK(one(env->pool(), "SELECT details->>'managed_by' FROM audit_log WHERE target_id = " + q(plain->node_id)) ==
        "agent");
}

TEST_CASE("slurm register: wrong types are 400, bad values 422, and nothing is written") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "hpc-1", "tianjin");
  const std::string token = add_join_token(env->pool(), center);
  struct Case {
    const char* what;
    std::string extra;
    Code code;
  };
  for (const Case& c : {
           Case{"managed_by a number", R"(,"managed_by":5)", Code::kInvalidArgument},
           Case{"slurm a string", R"(,"managed_by":"slurm","slurm":"cn01")", Code::kInvalidArgument},
           Case{"slurm.node a number", R"(,"managed_by":"slurm","slurm":{"node":1,"partition":"p","state":"idle"})",
                Code::kInvalidArgument},
           Case{"slurm.state missing", R"(,"managed_by":"slurm","slurm":{"node":"cn01","partition":"p"})",
                Code::kInvalidArgument},
           Case{"managed_by unknown", R"(,"managed_by":"pbs")", Code::kUnprocessable},
           Case{"slurm without its object", R"(,"managed_by":"slurm")", Code::kUnprocessable},
           Case{"slurm object on a plain node", R"(,"slurm":{"node":"cn01","partition":"p","state":"idle"})",
                Code::kUnprocessable},
           Case{"bad node name", slurm_extra("cn 01", "idle"), Code::kUnprocessable},
           Case{"bad state", slurm_extra("cn01", "idle drain"), Code::kUnprocessable},
           Case{"bad partition", R"(,"managed_by":"slurm","slurm":{"node":"cn01","partition":"a,b","state":"idle"})",
                Code::kUnprocessable},
       }) {
    CAPTURE(c.what);
    auto r = env->api->register_node(slurm_register_body(token, "cn01", c.extra));
    REQUIRE(!r.is_ok());
    CHECK(r.status().code() == c.code);
  }
  CHECK(one(env->pool(), "SELECT count(*) FROM nodes") == "0");
  CHECK(one(env->pool(), "SELECT uses FROM join_tokens") == "0");
}

TEST_CASE("slurm heartbeat: drain, down and back follow Slurm; a heartbeat alone never lifts a down") {
  auto env = make_env(std::chrono::seconds(30));
  if (!env) return;
  Pool2 p = make_pool(*env);
  auto reg = env->api->register_node(
      slurm_register_body(add_join_token(env->pool(), p.center_a), "cn01", slurm_extra("cn01", "idle")));
  REQUIRE(reg.is_ok());
  const std::string id = reg->node_id, secret = reg->node_secret;
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  // Only the Slurm node can hold the replica (region guangdong, node-1 drained by an operator).
  one(env->pool(), "UPDATE nodes SET status = 'draining', status_reason = 'drained by alice' WHERE id = " +
                       q(p.n1) + " RETURNING id");
  CHECK(slurm_heartbeat(*env, id, secret, "idle") == "ready");
  add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu","regions":["guangdong"]})");
  REQUIRE(env->reconciler->became_leader().is_ok());
  env->reconciler->run_cycle();
  const std::string rep = one(env->pool(), "SELECT id FROM replicas WHERE node_id = " + q(id));
  REQUIRE(!rep.empty());
  CHECK(slurm_heartbeat(*env, id, secret, "mixed", "", "ok", "[" + replica_json(rep, "ready", 21001) + "]") ==
        "ready");

  // Slurm drains it: draining (no new placements), the replica keeps running.
  CHECK(slurm_heartbeat(*env, id, secret, "mixed+drain", "bad dimm", "ok",
                        "[" + replica_json(rep, "ready", 21001) + "]") == "draining");
  CHECK(node_status(*env, id) == "draining | slurm: drain: bad dimm");
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(rep)) == "ready");
  CHECK(one(env->pool(), "SELECT details->>'to' FROM audit_log WHERE action = 'node.slurm_state' "
                         "ORDER BY id DESC LIMIT 1") == "draining");
  // Slurm undrains it.
  CHECK(slurm_heartbeat(*env, id, secret, "mixed", "", "ok", "[" + replica_json(rep, "ready", 21001) + "]") ==
        "ready");
  CHECK(node_status(*env, id) == "ready | -");

  // The controller is unreachable: nothing changes but the mark.
  CHECK(slurm_heartbeat(*env, id, secret, "unknown", "", "unreachable",
                        "[" + replica_json(rep, "ready", 21001) + "]") == "ready");
  CHECK(one(env->pool(), "SELECT (slurm->>'controller') || ' ' || (slurm->>'state') FROM nodes WHERE id = " + q(id)) ==
        "unreachable mixed");
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(rep)) == "ready");

  // Slurm says down: lost at once, its replica lost (and left out of the desired set), placed again.
  CHECK(slurm_heartbeat(*env, id, secret, "down*", "Not responding", "ok",
                        "[" + replica_json(rep, "ready", 21001) + "]") == "lost");
  CHECK(node_status(*env, id) == "lost | slurm: down: Not responding");
  CHECK(one(env->pool(), "SELECT state || ' | ' || reason FROM replicas WHERE id = " + q(rep)) ==
        "lost | node lost: slurm: down: Not responding");
  // A heartbeat without Slurm's word, or with the same down, keeps it lost.
  heartbeat(*env, id, secret);
  CHECK(node_status(*env, id) == "lost | slurm: down: Not responding");
  CHECK(slurm_heartbeat(*env, id, secret, "down", "Not responding") == "lost");
  env->reconciler->run_cycle();
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state = 'pending'") == "1");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE node_id = " + q(id) + " AND state <> 'lost'") == "0");

  // Slurm brings it back: ready, and the pending replica lands on it again.
  CHECK(slurm_heartbeat(*env, id, secret, "idle") == "ready");
  env->reconciler->run_cycle();
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE node_id = " + q(id) + " AND state = 'scheduled'") ==
        "1");
}

TEST_CASE("slurm heartbeat: an operator's drain stays; slurm on a plain node and bad values are refused") {
  auto env = make_env(std::chrono::seconds(30));
  if (!env) return;
  const std::string center = add_center(env->pool(), "hpc-1", "tianjin");
  const std::string token = add_join_token(env->pool(), center);
  auto reg = env->api->register_node(slurm_register_body(token, "cn01", slurm_extra("cn01", "idle")));
  REQUIRE(reg.is_ok());
  one(env->pool(), "UPDATE nodes SET status = 'draining', status_reason = 'drained by alice' WHERE id = " +
                       q(reg->node_id) + " RETURNING id");
  CHECK(slurm_heartbeat(*env, reg->node_id, reg->node_secret, "idle") == "draining");
  CHECK(slurm_heartbeat(*env, reg->node_id, reg->node_secret, "drain", "x") == "draining");
  CHECK(node_status(*env, reg->node_id) == "draining | drained by alice");

  auto [plain, plain_secret] = register_node(*env, token, "plain-1");
  struct Case {
    const char* what;
    std::string node, secret, slurm;
    Code code;
  };
  for (const Case& c : {
           Case{"slurm from a plain node", plain, plain_secret, R"({"state":"idle"})", Code::kUnprocessable},
           Case{"slurm not an object", reg->node_id, reg->node_secret, R"("idle")", Code::kInvalidArgument},
           Case{"state missing", reg->node_id, reg->node_secret, R"({"reason":"x"})", Code::kInvalidArgument},
           Case{"reason a number", reg->node_id, reg->node_secret, R"({"state":"idle","reason":1})",
                Code::kInvalidArgument},
           Case{"bad state", reg->node_id, reg->node_secret, R"({"state":"idle drain"})", Code::kUnprocessable},
           Case{"bad controller", reg->node_id, reg->node_secret, R"({"state":"idle","controller":"maybe"})",
                Code::kUnprocessable},
       }) {
    CAPTURE(c.what);
    auto r = env->api->heartbeat("Bearer " + c.secret,
                                 R"({"node_id":")" + c.node + R"(","replicas":[],"slurm":)" + c.slurm + "}");
    REQUIRE(!r.is_ok());
    CHECK(r.status().code() == c.code);
  }
}

TEST_CASE("slurm heartbeat: placement sees no more free capacity than the agent reports") {
  auto env = make_env(std::chrono::seconds(30));
  if (!env) return;
  const std::string center = add_center(env->pool(), "hpc-1", "tianjin");
  auto reg = env->api->register_node(
      slurm_register_body(add_join_token(env->pool(), center), "cn01", slurm_extra("cn01", "mixed")));
  REQUIRE(reg.is_ok());
  const std::string tenant = add_tenant(env->pool(), "acme");
  const std::string file = add_model_file(env->pool());
  // Slurm gives the other users' batch jobs 7 of the 8 cores: a 2-thread replica does not fit.
  auto hb = env->api->heartbeat("Bearer " + reg->node_secret,
                                R"({"node_id":")" + reg->node_id +
                                    R"(","free":{"cpu_cores":1,"ram_bytes":17179869184},"replicas":[],)"
                                    R"("slurm":{"state":"mixed","reason":"","controller":"ok"}})");
  REQUIRE_MESSAGE(hb.is_ok(), hb.status().to_string());
  add_service(env->pool(), tenant, file, "chat", 1, R"({"device_kind":"cpu","cpu_threads":2})");
  REQUIRE(env->reconciler->became_leader().is_ok());
  env->reconciler->run_cycle();
  CHECK(one(env->pool(), "SELECT state FROM replicas") == "pending");
  // The batch jobs ended: it fits.
  hb = env->api->heartbeat("Bearer " + reg->node_secret,
                           R"({"node_id":")" + reg->node_id +
                               R"(","free":{"cpu_cores":8,"ram_bytes":17179869184},"replicas":[],)"
                               R"("slurm":{"state":"idle","reason":"","controller":"ok"}})");
  REQUIRE(hb.is_ok());
  env->reconciler->run_cycle();
  CHECK(one(env->pool(), "SELECT state FROM replicas") == "scheduled");
}

}  // namespace
}  // namespace scn::scheduler
