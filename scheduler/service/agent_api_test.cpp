#include "scheduler/service/agent_api.h"

#include <doctest/doctest.h>

#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;

TEST_CASE("register: a good token registers the node, its devices and an audit row in one go") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center, "now() + interval '1 hour'", "2");
  auto r = env->api->register_node(register_body(
      token, "gpu-a-1",
      R"([{"kind":"cpu","model":"Xeon","memory_bytes":25769803776,"count":16},
          {"kind":"gpu","model":"H200","memory_bytes":151397597184,"count":4},
          {"kind":"gpu","model":"H200","memory_bytes":151397597184,"count":4},
          {"kind":"gpu","model":"A100","memory_bytes":85899345920,"count":2}])"));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->center_id == center);
  CHECK(r->node_secret.rfind("scn-node-", 0) == 0);
  CHECK(is_uuid(r->node_id));
  auto body = common::parse_json_object(r->to_json(env->config));
  REQUIRE(body.is_ok());
  CHECK(body->at("heartbeat_ms").as_int64() == 200);
  CHECK(body->at("node_secret").as_string() == r->node_secret);

  CHECK(one(env->pool(), "SELECT uses FROM join_tokens") == "1");
  CHECK(one(env->pool(), "SELECT string_agg(kind || ':' || model || ':' || count, ',' ORDER BY id) "
                         "FROM devices WHERE node_id = " + q(r->node_id)) ==
        "cpu:Xeon:16,gpu:H200:8,gpu:A100:2");
  CHECK(one(env->pool(), "SELECT secret_hash = decode(" + q(crypto::to_hex(crypto::sha256(r->node_secret))) +
                         ", 'hex') FROM nodes") == "t");
  CHECK(one(env->pool(), "SELECT status || ' ' || simulated || ' ' || (labels->>'rack') FROM nodes") ==
        "ready true a");
  CHECK(one(env->pool(), "SELECT actor_kind || ' ' || action || ' ' || target_id FROM audit_log") ==
        "node node.register " + r->node_id);
}

TEST_CASE("register: bad tokens are 401 and write nothing") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string expired = add_join_token(env->pool(), center, "now() - interval '1 minute'");
  const std::string revoked = add_join_token(env->pool(), center, "now() + interval '1 hour'", "NULL", true);
  const std::string once = add_join_token(env->pool(), center, "now() + interval '1 hour'", "1");
  struct Case {
    const char* what;
    std::string token;
    const char* message;
  };
  // `once` is used up by the first registration below.
  REQUIRE(env->api->register_node(register_body(once, "first")).is_ok());
  for (const Case& c : {Case{"unknown", "scn-join-nope", "unknown join token"},
                        Case{"expired", expired, "join token expired"},
                        Case{"revoked", revoked, "join token revoked"},
                        Case{"used up", once, "join token used up"}}) {
    CAPTURE(c.what);
    auto r = env->api->register_node(register_body(c.token, std::string("n-") + c.what[0]));
    REQUIRE(!r.is_ok());
    CHECK(r.status().code() == Code::kUnauthenticated);
    CHECK(r.status().message() == c.message);
  }
  CHECK(one(env->pool(), "SELECT count(*) FROM nodes") == "1");
  CHECK(one(env->pool(), "SELECT sum(uses) FROM join_tokens") == "1");
}

TEST_CASE("register: a name taken in the center is 409; a removed node's name is free again") {
  auto env = make_env();
  if (!env) return;
  const std::string a = add_center(env->pool(), "gd-1", "guangdong");
  const std::string b = add_center(env->pool(), "sc-1", "sichuan");
  const std::string ta = add_join_token(env->pool(), a);
  const std::string tb = add_join_token(env->pool(), b);
  auto [id, secret] = register_node(*env, ta, "node-1");
  auto again = env->api->register_node(register_body(ta, "node-1"));
  REQUIRE(!again.is_ok());
  CHECK(again.status().code() == Code::kConflict);
  CHECK(one(env->pool(), "SELECT uses FROM join_tokens WHERE center_id = " + q(a)) == "1");
  CHECK(env->api->register_node(register_body(tb, "node-1")).is_ok());  // another center
  one(env->pool(), "UPDATE nodes SET status = 'removed' WHERE id = " + q(id) + " RETURNING id");
  auto after = env->api->register_node(register_body(ta, "node-1"));
  REQUIRE_MESSAGE(after.is_ok(), after.status().to_string());
  CHECK(one(env->pool(), "SELECT name FROM nodes WHERE id = " + q(id)) ==
        "node-1.removed." + id.substr(0, 8));
}

TEST_CASE("register: malformed bodies are 400, bad values 422") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string t = add_join_token(env->pool(), center);
  const std::string cpu = R"({"kind":"cpu","model":"Xeon","memory_bytes":1024,"count":2})";
  struct Case {
    std::string body;
    Code code;
  };
  const Case cases[] = {
      {"not json", Code::kInvalidArgument},
      {"[]", Code::kInvalidArgument},
      {R"({"name":"n","address":"a","devices":[]})", Code::kInvalidArgument},  // no token
      {R"({"join_token":")" + t + R"(","name":5,"address":"a","devices":[]})", Code::kInvalidArgument},
      {register_body(t, "n", R"("cpu")"), Code::kInvalidArgument},
      {register_body(t, "n", R"([{"kind":"cpu","model":"x","count":2}])"), Code::kInvalidArgument},
      {register_body(t, "n", R"([{"kind":"cpu","model":"x","memory_bytes":"1","count":2}])"),
       Code::kInvalidArgument},
      {register_body(t, "n", "[]"), Code::kUnprocessable},  // no cpu entry
      {register_body(t, "n", "[" + cpu + "," + cpu + "]"), Code::kUnprocessable},
      {register_body(t, "n", R"([{"kind":"tpu","model":"x","memory_bytes":1,"count":1}])"), Code::kUnprocessable},
      {register_body(t, "n", R"([{"kind":"cpu","model":"x","memory_bytes":0,"count":1}])"), Code::kUnprocessable},
      {register_body(t, "n", R"([{"kind":"cpu","model":"x","memory_bytes":1,"count":0}])"), Code::kUnprocessable},
      {register_body(t, "n", R"([{"kind":"cpu","model":"x","memory_bytes":1,"count":5000}])"), Code::kUnprocessable},
      {register_body(t, "n", "[" + cpu + R"(,{"kind":"gpu","model":"H200","memory_bytes":1,"count":1},
                                           {"kind":"gpu","model":"H200","memory_bytes":2,"count":1}])"),
       Code::kUnprocessable},
      {register_body(t, "bad name!", "[" + cpu + "]"), Code::kUnprocessable},
      {register_body(t, "", "[" + cpu + "]"), Code::kUnprocessable},
      {R"({"join_token":")" + t + R"(","name":"n","address":"http://x/","devices":[)" + cpu + "]}",
       Code::kUnprocessable},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    auto r = env->api->register_node(c.body);
    REQUIRE(!r.is_ok());
    CHECK(r.status().code() == c.code);
  }
  CHECK(one(env->pool(), "SELECT count(*) FROM nodes") == "0");
  CHECK(one(env->pool(), "SELECT uses FROM join_tokens") == "0");
}

TEST_CASE("heartbeat: 401 without or with a bad secret, 410 for a removed node") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  auto [id, secret] = register_node(*env, add_join_token(env->pool(), center), "node-1");
  auto [other, other_secret] = register_node(*env, add_join_token(env->pool(), center), "node-2");
  for (const std::string& auth : {std::string(), std::string("Bearer"), std::string("Basic ") + secret,
                                  std::string("Bearer scn-node-wrong")}) {
    CAPTURE(auth);
    auto r = env->api->heartbeat(auth, "{}");
    REQUIRE(!r.is_ok());
    CHECK(r.status().code() == Code::kUnauthenticated);
  }
  auto mismatch = env->api->heartbeat("Bearer " + secret, R"({"node_id":")" + other + R"("})");
  REQUIRE(!mismatch.is_ok());
  CHECK(mismatch.status().code() == Code::kUnauthenticated);
  auto bad = env->api->heartbeat("Bearer " + secret, R"({"replicas":[{"replica_id":1}]})");
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);

  auto ok = heartbeat(*env, id, secret);
  CHECK(ok.at("node_status").as_string() == "ready");
  CHECK(ok.at("replicas").as_array().empty());
  CHECK(env->redis->get(node_alive_key(id))->value_or("") == "1");
  auto ttl = env->redis->pttl(node_alive_key(id));
  CHECK(*ttl > 0);
  CHECK(*ttl <= 600);
  CHECK(env->redis->get(node_status_key(id))->has_value());

  one(env->pool(), "UPDATE nodes SET status = 'removed' WHERE id = " + q(id) + " RETURNING id");
  auto gone = env->api->heartbeat("Bearer " + secret, "{}");
  REQUIRE(gone.is_ok());
  CHECK(gone->removed);
}

TEST_CASE("heartbeat: reported models are synced into node_model_files") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string file = add_model_file(env->pool());
  auto [id, secret] = register_node(*env, add_join_token(env->pool(), center), "node-1");
  auto send = [&](const std::string& models) {
    auto r = env->api->heartbeat("Bearer " + secret, R"({"models":)" + models + "}");
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  };
  send(R"([{"model_file_id":")" + file + R"(","state":"downloading","bytes_present":10},
           {"model_file_id":"00000000-0000-0000-0000-000000000000","state":"present"}])");
  CHECK(one(env->pool(), "SELECT state || ':' || bytes_present FROM node_model_files") == "downloading:10");
  send(R"([{"model_file_id":")" + file + R"(","state":"present","bytes_present":1185376}])");
  CHECK(one(env->pool(), "SELECT state FROM node_model_files") == "present");
  send("[]");
  CHECK(one(env->pool(), "SELECT count(*) FROM node_model_files") == "0");
  auto bad = env->api->heartbeat("Bearer " + secret, R"({"models":[{"model_file_id":"x","state":"present"}]})");
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().code() == Code::kUnprocessable);
}

}  // namespace
}  // namespace scn::scheduler
