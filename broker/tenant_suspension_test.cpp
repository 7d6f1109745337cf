// Suspending and reinstating a tenant (PATCH /tenants/{id} "status",
// user_admin.h) and what a suspension refuses (api_router.cpp,
// api_key_auth.cpp, session_auth.cpp); the throttle of POST /auth/password
// (session_auth.h) - through a real http::Server, PostgreSQL and Redis.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "broker/accounts_api_test_fixture.h"
#include "broker/user_admin.h"

namespace scn::broker {
namespace {

using testing::AccountsServer;
using testing::Creds;
using testing::Reply;
using testing::World;

std::string tenant_status(AccountsServer& s, const std::string& id) {
  auto r = s.pg().with_tx([&](pqxx::work& tx) -> Result<std::string> {
    return tx.exec_params1("SELECT status FROM tenants WHERE id = $1::uuid", id)[0].as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

std::string new_key(AccountsServer& s, const Creds& who, const std::string& name) {
  Reply r = s.call("POST", "/api/v1/api-keys", R"({"name":")" + name + R"("})", who);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return std::string(r.obj().at("key").as_string());
}

TEST_CASE("tenant suspension: only admins suspend; keys 403, members read only; reinstating restores") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  const auto [root, alice, bob, opx, opy] = testing::log_in_all(*s);
  const Creds key{"", new_key(*s, alice, "ci")};
  const std::string acme = "/api/v1/tenants/" + w.acme.id;

  // Two brokers' key caches with the production TTL: both have the key cached.
  ApiKeyCache broker1(s->pg(), std::chrono::milliseconds(1000));
  ApiKeyCache broker2(s->pg(), std::chrono::milliseconds(1000));
  REQUIRE(broker1.authenticate(key.bearer).is_ok());
  REQUIRE(broker2.authenticate(key.bearer).is_ok());

  // Who may suspend, and bad values.
  CHECK(s->call("PATCH", acme, R"({"status":"suspended"})", alice).status == 403);
  CHECK(s->call("PATCH", acme, R"({"status":"suspended"})", opx).status == 403);
  CHECK(s->call("PATCH", acme, R"({"status":"suspended"})", key).status == 403);
  CHECK(s->call("PATCH", acme, R"({"status":"suspended"})").status == 401);
  CHECK(s->call("PATCH", acme, R"({"status":"banned"})", root).status == 400);
  CHECK(s->call("PATCH", acme, R"({"status":true})", root).status == 400);
  CHECK(tenant_status(*s, w.acme.id) == "active");

  Reply suspended = s->call("PATCH", acme, R"({"status":"suspended"})", root);
  REQUIRE_MESSAGE(suspended.status == 200, suspended.body);
  CHECK(suspended.obj().at("status").as_string() == "suspended");
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'tenant.suspend' AND actor_name = 'root' "
                 "AND target_id = '" + w.acme.id + "'") == 1);
  // Again: no change, no second audit row.
  CHECK(s->call("PATCH", acme, R"({"status":"suspended"})", root).status == 200);
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'tenant.suspend'") == 1);

  // The tenant's API key: 403 tenant_suspended everywhere (OpenAI-style body).
  Reply by_key = s->call("GET", "/api/v1/auth/me", "", key);
  CHECK(by_key.status == 403);
  CHECK(by_key.error_type() == "tenant_suspended");
  CHECK(s->call("GET", "/api/v1/api-keys", "", key).status == 403);
  // ... and on both brokers within the cache's TTL (1 s).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  bool refused1 = false, refused2 = false;
  while (!(refused1 && refused2) && std::chrono::steady_clock::now() < deadline) {
    auto a = broker1.authenticate(key.bearer);
    auto b = broker2.authenticate(key.bearer);
    refused1 = !a.is_ok() && is_tenant_suspended(a.status());
    refused2 = !b.is_ok() && is_tenant_suspended(b.status());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(refused1);
  CHECK(refused2);

  // Its member: signs in and reads, told the tenant is suspended; changes 403.
  Reply me = s->call("GET", "/api/v1/auth/me", "", alice);
  CHECK(me.status == 200);
  CHECK(me.obj().at("tenant_suspended").as_bool());
  Reply relogin = s->call("POST", "/api/v1/auth/login", R"({"username":"alice","password":"password1"})");
  CHECK(relogin.status == 200);
  CHECK(relogin.obj().at("tenant_suspended").as_bool());
  CHECK(s->call("GET", "/api/v1/api-keys", "", alice).status == 200);
  CHECK(s->call("GET", acme, "", alice).status == 200);
  Reply create = s->call("POST", "/api/v1/api-keys", R"({"name":"more"})", alice);
  CHECK(create.status == 403);
  CHECK(create.error_type() == "tenant_suspended");
  CHECK(s->call("DELETE", "/api/v1/api-keys/00000000-0000-4000-8000-000000000000", "", alice).status == 403);
  // Her own password stays hers to change (here: a wrong old one, 422).
  CHECK(s->call("POST", "/api/v1/auth/password", R"({"old_password":"nope-nope","new_password":"password2"})",
                alice).status == 422);
  // Others are not affected: another tenant, the admin.
  CHECK(!s->call("GET", "/api/v1/auth/me", "", bob).obj().at("tenant_suspended").as_bool());
  CHECK(s->call("POST", "/api/v1/api-keys", R"({"name":"b"})", bob).status == 201);
  CHECK(s->call("PATCH", acme, R"({"display_name":"Acme Inc"})", root).status == 200);

  // Reinstated: the key works at once (refusals are not cached), changes too.
  Reply reinstated = s->call("PATCH", acme, R"({"status":"active"})", root);
  REQUIRE_MESSAGE(reinstated.status == 200, reinstated.body);
  CHECK(reinstated.obj().at("status").as_string() == "active");
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'tenant.reinstate' AND actor_name = 'root'") == 1);
  CHECK(s->call("GET", "/api/v1/auth/me", "", key).status == 200);
  CHECK(broker1.authenticate(key.bearer).is_ok());
  CHECK(broker2.authenticate(key.bearer).is_ok());
  CHECK(!s->call("GET", "/api/v1/auth/me", "", alice).obj().at("tenant_suspended").as_bool());
  CHECK(s->call("POST", "/api/v1/api-keys", R"({"name":"more"})", alice).status == 201);
  // Signing out works whatever the status.
  CHECK(s->call("POST", "/api/v1/auth/logout", "{}", alice).status == 204);
}

TEST_CASE("POST /auth/password: wrong old passwords are throttled like sign-in (429, Retry-After)") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  const Creds alice{s->login("alice", "password1"), ""};
  const Creds bob{s->login("bob", "password1"), ""};
  const std::string wrong = R"({"old_password":"wrong-one","new_password":"password2"})";
  const std::string right = R"({"old_password":"password1","new_password":"password2"})";

  for (int i = 0; i < kMaxLoginFailures; ++i) {
    CAPTURE(i);
    CHECK(s->call("POST", "/api/v1/auth/password", wrong, alice).status == 422);
  }
  Reply throttled = s->call("POST", "/api/v1/auth/password", wrong, alice);
  CHECK(throttled.status == 429);
  const int retry = std::atoi(throttled.headers.get_or("Retry-After", "0").c_str());
  CHECK(retry > 0);
  CHECK(retry <= 300);
  // Also with the right old password, and signing in (one count per user).
  CHECK(s->call("POST", "/api/v1/auth/password", right, alice).status == 429);
  CHECK(s->call("POST", "/api/v1/auth/login", R"({"username":"alice","password":"password1"})").status == 429);
  // Another user is not affected; a success clears that user's count.
  for (int i = 0; i < 3; ++i) CHECK(s->call("POST", "/api/v1/auth/password", wrong, bob).status == 422);
  CHECK(s->call("POST", "/api/v1/auth/password", right, bob).status == 204);
  auto count = s->ctx().redis.get(s->ctx().redis_prefix + "login-fail:bob");
  REQUIRE(count.is_ok());
  CHECK_FALSE(count->has_value());
  // Once the window is over (here: the count removed), alice may try again.
  REQUIRE(s->ctx().redis.del({s->ctx().redis_prefix + "login-fail:alice"}).is_ok());
  CHECK(s->call("POST", "/api/v1/auth/password", right, alice).status == 204);
}

}  // namespace
}  // namespace scn::broker
