#include "broker/accounts_api.h"

#include <doctest/doctest.h>

#include "broker/accounts_api_test_fixture.h"

namespace scn::broker {
namespace {

using testing::AccountsServer;
using testing::Creds;
using testing::Reply;
using testing::World;

constexpr const char* kNoSuchId = "00000000-0000-4000-8000-000000000000";

using testing::log_in_all;
using testing::Sessions;

TEST_CASE("account endpoints: who may do what") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  Sessions as = log_in_all(*s);

  struct Case {
    const char* what;
    Creds creds;
    std::string method;
    std::string path;
    std::string body;
    int status;
  };
  const std::string x_tokens = "/api/v1/centers/" + w.x.id + "/join-tokens";
  const Case cases[] = {
      // Tenants: admin only (members read their own).
      {"member creates tenant", as.alice, "POST", "/api/v1/tenants", R"({"name":"evil"})", 403},
      {"operator creates tenant", as.opx, "POST", "/api/v1/tenants", R"({"name":"evil"})", 403},
      {"admin creates tenant", as.root, "POST", "/api/v1/tenants", R"({"name":"gamma","allowed_regions":["r1"]})", 201},
      {"admin: taken name", as.root, "POST", "/api/v1/tenants", R"({"name":"acme"})", 409},
      {"member lists tenants", as.alice, "GET", "/api/v1/tenants", "", 403},
      {"admin lists tenants", as.root, "GET", "/api/v1/tenants", "", 200},
      {"member reads own tenant", as.alice, "GET", "/api/v1/tenants/" + w.acme.id, "", 200},
      {"member reads other tenant", as.alice, "GET", "/api/v1/tenants/" + w.beta.id, "", 404},
      {"operator reads tenant", as.opx, "GET", "/api/v1/tenants/" + w.acme.id, "", 403},
      {"admin: invalid tenant id", as.root, "GET", "/api/v1/tenants/not-a-uuid", "", 404},
      {"admin: unknown tenant id", as.root, "GET", std::string("/api/v1/tenants/") + kNoSuchId, "", 404},
      // Users: admin only.
      {"member creates user", as.alice, "POST", "/api/v1/users",
       R"({"username":"eve","password":"password1","role":"admin"})", 403},
      {"member lists users", as.bob, "GET", "/api/v1/users", "", 403},
      {"admin lists users", as.root, "GET", "/api/v1/users", "", 200},
      {"admin creates operator", as.root, "POST", "/api/v1/users",
       R"({"username":"opx2","password":"password1","role":"operator","center_id":")" + w.x.id + R"("})", 201},
      // Centers: anyone logged in reads; admin creates.
      {"operator creates center", as.opx, "POST", "/api/v1/centers", R"({"name":"z","region":"r"})", 403},
      {"admin creates center", as.root, "POST", "/api/v1/centers", R"({"name":"z","region":"r"})", 201},
      {"member reads a center", as.alice, "GET", "/api/v1/centers/" + w.y.id, "", 200},
      {"operator reads own center", as.opx, "GET", "/api/v1/centers/" + w.x.id, "", 200},
      {"operator reads other center", as.opx, "GET", "/api/v1/centers/" + w.y.id, "", 404},
      {"invalid center id", as.root, "GET", "/api/v1/centers/x", "", 404},
      // Join tokens: admin and the center's operator.
      {"operator X tokens for X", as.opx, "POST", x_tokens, R"({"ttl_seconds":600})", 201},
      {"operator Y tokens for X", as.opy, "POST", x_tokens, "{}", 404},
      {"operator Y lists X tokens", as.opy, "GET", x_tokens, "", 404},
      {"member tokens", as.alice, "POST", x_tokens, "{}", 403},
      {"admin tokens, empty body", as.root, "POST", x_tokens, "", 201},
      {"admin tokens, unknown center", as.root, "POST", std::string("/api/v1/centers/") + kNoSuchId + "/join-tokens", "{}", 404},
      {"operator revokes unknown token", as.opx, "DELETE", x_tokens + "/" + kNoSuchId, "", 404},
      {"operator revokes invalid token id", as.opx, "DELETE", x_tokens + "/bad", "", 404},
      // API keys: tenants (admin with tenant_id).
      {"operator creates key", as.opx, "POST", "/api/v1/api-keys", R"({"name":"k"})", 403},
      {"operator lists keys", as.opx, "GET", "/api/v1/api-keys", "", 403},
      {"admin key without tenant", as.root, "POST", "/api/v1/api-keys", R"({"name":"k"})", 400},
      {"admin key for beta", as.root, "POST", "/api/v1/api-keys", R"({"name":"k","tenant_id":")" + w.beta.id + R"("})", 201},
      {"admin key, unknown tenant", as.root, "POST", "/api/v1/api-keys", std::string(R"({"name":"k","tenant_id":")") + kNoSuchId + R"("})", 404},
      {"member key for other tenant", as.alice, "POST", "/api/v1/api-keys", R"({"name":"k","tenant_id":")" + w.beta.id + R"("})", 404},
      // Audit: admin.
      {"member audit", as.alice, "GET", "/api/v1/audit", "", 403},
      {"operator audit", as.opx, "GET", "/api/v1/audit", "", 403},
      {"admin audit", as.root, "GET", "/api/v1/audit?limit=5", "", 200},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.what));
    Reply r = s->call(c.method, c.path, c.body, c.creds);
    CHECK_MESSAGE(r.status == c.status, r.body);
    if (r.status == 403) CHECK(r.error_type() == "permission_error");
    if (r.status == 404) CHECK(r.error_type() == "not_found_error");
  }

  // An operator sees only their own center in the list; a member sees all.
  Reply opx_centers = s->call("GET", "/api/v1/centers", "", as.opx);
  REQUIRE(opx_centers.status == 200);
  REQUIRE(opx_centers.obj().at("data").as_array().size() == 1);
  CHECK(opx_centers.obj().at("data").at(0).at("id").as_string() == w.x.id);
  CHECK(s->call("GET", "/api/v1/centers", "", as.alice).obj().at("data").as_array().size() == 3);
}

TEST_CASE("API keys: tenants never see or touch each other's keys") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  Sessions as = log_in_all(*s);

  Reply created = s->call("POST", "/api/v1/api-keys", R"({"name":"ci","expires_in_seconds":3600})", as.alice);
  REQUIRE_MESSAGE(created.status == 201, created.body);
  const auto& key = created.obj();
  std::string key_id(key.at("id").as_string());
  std::string secret(key.at("key").as_string());
  CHECK(secret.rfind("scn-key-", 0) == 0);
  CHECK(key.at("prefix").as_string() == secret.substr(0, 12));
  CHECK(key.at("tenant_id").as_string() == w.acme.id);
  CHECK(key.at("expires_at").is_string());
  CHECK(created.headers.get_or("Cache-Control", "") == "no-store");

  // The key works, and can create another key of its tenant.
  Reply by_key = s->call("POST", "/api/v1/api-keys", R"({"name":"from-key"})", Creds{"", secret});
  CHECK(by_key.status == 201);

  Reply alice_list = s->call("GET", "/api/v1/api-keys", "", as.alice);
  REQUIRE(alice_list.status == 200);
  CHECK(alice_list.obj().at("data").as_array().size() == 2);
  CHECK(alice_list.body.find(secret) == std::string::npos);
  CHECK(alice_list.body.find("key_hash") == std::string::npos);
  Reply bob_list = s->call("GET", "/api/v1/api-keys", "", as.bob);
  REQUIRE(bob_list.status == 200);
  CHECK(bob_list.obj().at("data").as_array().empty());
  CHECK(s->call("GET", "/api/v1/api-keys", "", as.root).obj().at("data").as_array().size() == 2);
  CHECK(s->call("GET", "/api/v1/api-keys?tenant_id=" + w.beta.id, "", as.root).obj().at("data").as_array().empty());
  CHECK(s->call("GET", "/api/v1/api-keys?tenant_id=zzz", "", as.root).status == 404);

  // Bob cannot revoke Alice's key: 404, and it still works.
  CHECK(s->call("DELETE", "/api/v1/api-keys/" + key_id, "", as.bob).status == 404);
  CHECK(s->call("DELETE", "/api/v1/api-keys/not-a-uuid", "", as.bob).status == 404);
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{"", secret}).status == 200);
  // Alice revokes it: it stops working at once (cache TTL 0 here).
  CHECK(s->call("DELETE", "/api/v1/api-keys/" + key_id, "", as.alice).status == 204);
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{"", secret}).status == 401);
  CHECK(s->call("DELETE", "/api/v1/api-keys/" + key_id, "", as.alice).status == 204);  // idempotent
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'api_key.revoke'") == 1);
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'api_key.create'") == 2);
  Reply listed = s->call("GET", "/api/v1/api-keys", "", as.alice);
  int revoked = 0;
  for (const auto& k : listed.obj().at("data").as_array()) revoked += k.at("revoked_at").is_string();
  CHECK(revoked == 1);
}

TEST_CASE("join tokens: create, list, revoke per center") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  Sessions as = log_in_all(*s);
  const std::string x_tokens = "/api/v1/centers/" + w.x.id + "/join-tokens";

  Reply t = s->call("POST", x_tokens, R"({"ttl_seconds":120,"max_uses":3})", as.opx);
  REQUIRE_MESSAGE(t.status == 201, t.body);
  std::string token(t.obj().at("token").as_string());
  std::string id(t.obj().at("id").as_string());
  CHECK(token.rfind("scn-join-", 0) == 0);
  CHECK(t.obj().at("prefix").as_string() == token.substr(0, 12));
  CHECK(t.obj().at("max_uses").as_int64() == 3);
  Reply list = s->call("GET", x_tokens, "", as.opx);
  REQUIRE(list.status == 200);
  REQUIRE(list.obj().at("data").as_array().size() == 1);
  CHECK(list.obj().at("data").at(0).at("uses").as_int64() == 0);
  CHECK(list.body.find(token) == std::string::npos);
  // Operator Y cannot revoke it, not even through its own center's path.
  CHECK(s->call("DELETE", x_tokens + "/" + id, "", as.opy).status == 404);
  CHECK(s->call("DELETE", "/api/v1/centers/" + w.y.id + "/join-tokens/" + id, "", as.opy).status == 404);
  CHECK(s->call("DELETE", x_tokens + "/" + id, "", as.opx).status == 204);
  CHECK(s->call("GET", x_tokens, "", as.root).obj().at("data").at(0).at("revoked_at").is_string());
  CHECK(s->count("SELECT count(*) FROM join_tokens WHERE revoked_at IS NOT NULL") == 1);
}

TEST_CASE("account endpoints: bad input") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  Sessions as = log_in_all(*s);
  const std::string x_tokens = "/api/v1/centers/" + w.x.id + "/join-tokens";
  struct Case {
    const char* what;
    std::string method;
    std::string path;
    std::string body;
    int status;
    const char* param;  // expected error.param or ""
  };
  const Case cases[] = {
      {"malformed JSON", "POST", "/api/v1/tenants", "{\"name\":", 400, ""},
      {"not an object", "POST", "/api/v1/tenants", "[\"a\"]", 400, ""},
      {"invalid UTF-8", "POST", "/api/v1/tenants", "{\"name\":\"a\xc3\x28\"}", 400, ""},
      {"missing name", "POST", "/api/v1/tenants", "{}", 400, "name"},
      {"name wrong type", "POST", "/api/v1/tenants", R"({"name":5})", 400, "name"},
      {"bad name", "POST", "/api/v1/tenants", R"({"name":"Not Valid"})", 400, "name"},
      {"display name too long", "POST", "/api/v1/tenants", R"({"name":"ok","display_name":")" + std::string(201, 'd') + "\"}", 400, "display_name"},
      {"regions wrong type", "POST", "/api/v1/tenants", R"({"name":"ok","allowed_regions":"r1"})", 400, "allowed_regions"},
      {"regions not strings", "POST", "/api/v1/tenants", R"({"name":"ok","allowed_regions":[1]})", 400, "allowed_regions"},
      {"max_replicas out of range", "POST", "/api/v1/tenants", R"({"name":"ok","max_replicas":100000})", 422, "max_replicas"},
      {"max_replicas fraction", "POST", "/api/v1/tenants", R"({"name":"ok","max_replicas":1.5})", 400, "max_replicas"},
      {"short password", "POST", "/api/v1/users", R"({"username":"u1","password":"short","role":"admin"})", 400, "password"},
      {"bad role", "POST", "/api/v1/users", R"({"username":"u1","password":"password1","role":"king"})", 400, "role"},
      {"member without tenant", "POST", "/api/v1/users", R"({"username":"u1","password":"password1","role":"member"})", 400, "tenant_id"},
      {"member, invalid tenant id", "POST", "/api/v1/users", R"({"username":"u1","password":"password1","role":"member","tenant_id":"acme'--"})", 404, "tenant_id"},
      {"member, unknown tenant", "POST", "/api/v1/users", std::string(R"({"username":"u1","password":"password1","role":"member","tenant_id":")") + kNoSuchId + "\"}", 404, ""},
      {"duplicate user", "POST", "/api/v1/users", R"({"username":"ALICE","password":"password1","role":"admin"})", 409, ""},
      {"center without region", "POST", "/api/v1/centers", R"({"name":"c1"})", 400, "region"},
      {"negative price", "POST", "/api/v1/centers", R"({"name":"c1","region":"r","price_gpu_hour":-1})", 422, "price_gpu_hour"},
      {"price wrong type", "POST", "/api/v1/centers", R"({"name":"c1","region":"r","price_gpu_hour":"1"})", 400, "price_gpu_hour"},
      {"ttl too short", "POST", x_tokens, R"({"ttl_seconds":59})", 422, "ttl_seconds"},
      {"ttl too long", "POST", x_tokens, R"({"ttl_seconds":2592001})", 422, "ttl_seconds"},
      {"ttl wrong type", "POST", x_tokens, R"({"ttl_seconds":"60"})", 400, "ttl_seconds"},
      {"max_uses zero", "POST", x_tokens, R"({"max_uses":0})", 422, "max_uses"},
      {"key name missing", "POST", "/api/v1/api-keys", std::string(R"({"tenant_id":")") + w.acme.id + "\"}", 400, "name"},
      {"key name too long", "POST", "/api/v1/api-keys", std::string(R"({"name":")") + std::string(101, 'k') + R"(","tenant_id":")" + w.acme.id + "\"}", 400, "name"},
      {"key expiry too short", "POST", "/api/v1/api-keys", std::string(R"({"name":"k","expires_in_seconds":1,"tenant_id":")") + w.acme.id + "\"}", 422, "expires_in_seconds"},
      {"tenant id wrong type", "POST", "/api/v1/api-keys", R"({"name":"k","tenant_id":7})", 400, "tenant_id"},
      {"audit limit not a number", "GET", "/api/v1/audit?limit=ten", "", 400, "limit"},
      {"audit limit too big", "GET", "/api/v1/audit?limit=5000", "", 422, "limit"},
      {"audit bad outcome", "GET", "/api/v1/audit?outcome=maybe", "", 400, "outcome"},
      {"body over 1 MiB", "POST", "/api/v1/tenants", R"({"name":")" + std::string(1100000, 'a') + "\"}", 413, ""},
      {"unknown endpoint", "GET", "/api/v1/nope", "", 404, ""},
      {"wrong method", "PATCH", "/api/v1/tenants", "", 405, ""},
  };
  const long long audit_before = s->count("SELECT count(*) FROM audit_log");
  for (const auto& c : cases) {
    CAPTURE(std::string(c.what));
    Reply r = s->call(c.method, c.path, c.body, as.root);
    CHECK_MESSAGE(r.status == c.status, r.body.substr(0, 300));
    REQUIRE_MESSAGE(r.json.is_object(), r.body.substr(0, 300));
    REQUIRE(r.obj().contains("error"));
    if (*c.param != '\0' && r.obj().at("error").as_object().contains("param")) {
      CHECK(r.obj().at("error").at("param") == boost::json::value(c.param));
    }
  }
  // Nothing was written by any of them.
  CHECK(s->count("SELECT count(*) FROM audit_log") == audit_before);
  CHECK(s->count("SELECT count(*) FROM tenants") == 2);
  CHECK(s->count("SELECT count(*) FROM users") == 5);
  CHECK(s->count("SELECT count(*) FROM centers") == 2);
  CHECK(s->count("SELECT count(*) FROM join_tokens") == 0);
  CHECK(s->count("SELECT count(*) FROM api_keys") == 0);

  // The audit log lists what happened, newest first, with paging.
  Reply audit = s->call("GET", "/api/v1/audit?limit=2", "", as.root);
  REQUIRE(audit.status == 200);
  const auto& rows = audit.obj().at("data").as_array();
  REQUIRE(rows.size() == 2);
  CHECK(rows.at(0).at("action").as_string() == "session.login");
  std::int64_t last = rows.at(1).at("id").as_int64();
  Reply older = s->call("GET", "/api/v1/audit?limit=1000&before_id=" + std::to_string(last), "", as.root);
  REQUIRE(older.status == 200);
  CHECK(older.obj().at("data").as_array().size() == static_cast<std::size_t>(audit_before - 2));
}

TEST_CASE("audit log: server-side filters combine with paging") {
  auto s = AccountsServer::start();
  if (!s) return;
  (void)World::make(*s);
  Creds root{s->login("root", "password1"), ""};
  CHECK(s->count("WITH ins AS (INSERT INTO audit_log (actor_kind, actor_name, action, target_kind, outcome) "
                 "VALUES ('user', 'carol', 'api_key.create', 'api_key', 'ok'), "
                 "('user', 'carol', 'api_key.revoke', 'api_key', 'denied'), "
                 "('user', 'dave', 'api_key.revoke', 'api_key', 'ok'), "
                 "('system', 'carol2', 'node.remove', 'node', 'failed'), "
                 "('user', 'dave', 'api_keys.list', 'api_key', 'ok') RETURNING 1) "
                 "SELECT count(*) FROM ins") == 5);
  auto actions = [&](const std::string& query) {
    Reply r = s->call("GET", "/api/v1/audit?" + query, "", root);
    REQUIRE_MESSAGE(r.status == 200, r.body.substr(0, 300));
    std::vector<std::string> out;
    for (const auto& row : r.obj().at("data").as_array())
      out.push_back(std::string(row.at("action").as_string()) + "/" +
                    std::string(row.at("actor_name").as_string()));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(actions("action=api_key.") == V{"api_key.revoke/dave", "api_key.revoke/carol", "api_key.create/carol"});
  CHECK(actions("action=api_key.revoke&actor=carol") == V{"api_key.revoke/carol"});
  CHECK(actions("actor=carol") == V{"api_key.revoke/carol", "api_key.create/carol"});
  CHECK(actions("outcome=failed") == V{"node.remove/carol2"});
  CHECK(actions("outcome=denied&target_kind=api_key") == V{"api_key.revoke/carol"});
  CHECK(actions("target_kind=node&outcome=ok").empty());
  CHECK(actions("action=api_key&limit=2") == V{"api_keys.list/dave", "api_key.revoke/dave"});
  // Paging keeps the filter: older than the newest api_key.* row.
  const long long newest = s->count("SELECT max(id) FROM audit_log WHERE action = 'api_key.revoke'");
  CHECK(actions("action=api_key.&limit=1&before_id=" + std::to_string(newest)) == V{"api_key.revoke/carol"});
  // A prefix is not a pattern.
  CHECK(actions("action=api_%25").empty());
  CHECK(s->call("GET", "/api/v1/audit?outcome=OK", "", root).status == 400);
}

}  // namespace
}  // namespace scn::broker
