// Editing, deleting and re-passwording users, tenant settings and
// memberships (users_api.cpp, user_admin.h) through a real http::Server and
// PostgreSQL.
#include "broker/user_admin.h"

#include <doctest/doctest.h>

#include "broker/accounts_api_test_fixture.h"

namespace scn::broker {
namespace {

using testing::AccountsServer;
using testing::Creds;
using testing::Reply;
using testing::World;

constexpr const char* kNoSuchId = "00000000-0000-4000-8000-000000000000";

struct People {
  Creds root, alice, bob, opx;
};

People log_in(AccountsServer& s) {
  return {{s.login("root", "password1"), ""}, {s.login("alice", "password1"), ""},
          {s.login("bob", "password1"), ""}, {s.login("opx", "password1"), ""}};
}

int login_status(AccountsServer& s, const std::string& user, const std::string& password) {
  return s.call("POST", "/api/v1/auth/login", R"({"username":")" + user + R"(","password":")" + password + R"("})")
      .status;
}

long long audit_rows(AccountsServer& s, const std::string& action) {
  return s.count("SELECT count(*) FROM audit_log WHERE action = '" + action + "' AND actor_name = 'root'");
}

TEST_CASE("user admin endpoints: who may do what, and bad input") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  People as = log_in(*s);
  const std::string alice = "/api/v1/users/" + w.alice.id;
  const std::string acme = "/api/v1/tenants/" + w.acme.id;
  struct Case {
    const char* what;
    Creds creds;
    std::string method, path, body;
    int status;
  };
  const Case cases[] = {
      {"member edits a user", as.alice, "PATCH", alice, R"({"display_name":"A"})", 403},
      {"operator edits a user", as.opx, "PATCH", alice, R"({"display_name":"A"})", 403},
      {"anonymous edits a user", {}, "PATCH", alice, R"({"display_name":"A"})", 401},
      {"admin: unknown user", as.root, "PATCH", std::string("/api/v1/users/") + kNoSuchId, R"({"display_name":"A"})", 404},
      {"admin: malformed user id", as.root, "PATCH", "/api/v1/users/xyz", R"({"display_name":"A"})", 404},
      {"admin: unknown field", as.root, "PATCH", alice, R"({"username":"mallory"})", 400},
      {"admin: wrong type", as.root, "PATCH", alice, R"({"disabled":"yes"})", 400},
      {"admin: bad role", as.root, "PATCH", alice, R"({"role":"king"})", 400},
      {"admin: malformed JSON", as.root, "PATCH", alice, R"({"display_name":)", 400},
      {"admin: display name too long", as.root, "PATCH", alice, R"({"display_name":")" + std::string(201, 'a') + R"("})", 400},
      {"admin: tenant for an operator", as.root, "PATCH", "/api/v1/users/" + w.opx.id, R"({"tenant_id":")" + w.acme.id + R"("})", 400},
      {"admin: operator without center", as.root, "PATCH", alice, R"({"role":"operator"})", 400},
      {"admin: unknown tenant", as.root, "PATCH", alice, std::string(R"({"tenant_id":")") + kNoSuchId + R"("})", 404},
      {"admin: disables themselves", as.root, "PATCH", "/api/v1/users/" + w.root.id, R"({"disabled":true})", 409},
      {"admin: demotes themselves", as.root, "PATCH", "/api/v1/users/" + w.root.id,
       R"({"role":"operator","center_id":")" + w.x.id + R"("})", 409},
      {"admin: deletes themselves", as.root, "DELETE", "/api/v1/users/" + w.root.id, "", 409},
      {"member deletes a user", as.alice, "DELETE", "/api/v1/users/" + w.bob.id, "", 403},
      {"admin deletes unknown user", as.root, "DELETE", std::string("/api/v1/users/") + kNoSuchId, "", 404},
      {"member resets a password", as.alice, "POST", "/api/v1/users/" + w.bob.id + "/password", R"({"password":"newpassword"})", 403},
      {"admin: short password", as.root, "POST", alice + "/password", R"({"password":"short"})", 400},
      {"admin: password missing", as.root, "POST", alice + "/password", "{}", 400},
      {"admin: password of unknown user", as.root, "POST", std::string("/api/v1/users/") + kNoSuchId + "/password",
       R"({"password":"newpassword"})", 404},
      {"own password: wrong old", as.bob, "POST", "/api/v1/auth/password",
       R"({"old_password":"wrong-one","new_password":"newpassword"})", 422},
      {"own password: short new", as.bob, "POST", "/api/v1/auth/password",
       R"({"old_password":"password1","new_password":"short"})", 400},
      {"own password: anonymous", {}, "POST", "/api/v1/auth/password",
       R"({"old_password":"password1","new_password":"newpassword"})", 401},
      {"member edits tenant", as.alice, "PATCH", acme, R"({"display_name":"Evil"})", 403},
      {"operator edits tenant", as.opx, "PATCH", acme, R"({"display_name":"Evil"})", 403},
      {"admin: tenant quota out of range", as.root, "PATCH", acme, R"({"max_replicas":20000})", 422},
      {"admin: tenant regions of numbers", as.root, "PATCH", acme, R"({"allowed_regions":[1]})", 400},
      {"admin: tenant unknown field", as.root, "PATCH", acme, R"({"name":"renamed"})", 400},
      {"admin: unknown tenant", as.root, "PATCH", std::string("/api/v1/tenants/") + kNoSuchId, R"({"display_name":"X"})", 404},
      {"member lists own members", as.alice, "GET", acme + "/members", "", 200},
      {"member lists other tenant's members", as.bob, "GET", acme + "/members", "", 404},
      {"operator lists members", as.opx, "GET", acme + "/members", "", 403},
      {"admin lists members of unknown tenant", as.root, "GET", std::string("/api/v1/tenants/") + kNoSuchId + "/members", "", 404},
      {"member adds a member", as.alice, "POST", acme + "/members", R"({"username":"bob"})", 403},
      {"admin adds an operator", as.root, "POST", acme + "/members", R"({"username":"opx"})", 409},
      {"admin adds another tenant's member", as.root, "POST", acme + "/members", R"({"username":"bob"})", 409},
      {"admin adds an unknown user", as.root, "POST", acme + "/members", R"({"username":"nobody"})", 404},
      {"admin adds with both fields", as.root, "POST", acme + "/members", R"({"username":"bob","user_id":")" + w.bob.id + R"("})", 400},
      {"admin adds an existing member", as.root, "POST", acme + "/members", R"({"user_id":")" + w.alice.id + R"("})", 200},
      {"member removes a member", as.alice, "DELETE", acme + "/members/" + w.alice.id, "", 403},
      {"admin removes a non-member", as.root, "DELETE", acme + "/members/" + w.bob.id, "", 404},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.what));
    Reply r = s->call(c.method, c.path, c.body, c.creds);
    CHECK_MESSAGE(r.status == c.status, r.body);
    if (r.status >= 400) {
      CHECK(r.json.is_object());
      CHECK(!r.error_type().empty());
    }
  }
  // Nothing above changed anything.
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action IN ('user.update', 'user.delete', "
                 "'user.password_reset', 'user.password_change', 'tenant.member_add', 'tenant.member_remove', "
                 "'tenant.update')") == 0);
  CHECK(login_status(*s, "bob", "password1") == 200);
}

TEST_CASE("user admin: an admin resets a password; a user changes their own with the old one") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  People as = log_in(*s);
  // The admin resets alice's password: her sessions end, only the new one works.
  Reply reset = s->call("POST", "/api/v1/users/" + w.alice.id + "/password", R"({"password":"brand-new-1"})", as.root);
  REQUIRE_MESSAGE(reset.status == 204, reset.body);
  CHECK(s->call("GET", "/api/v1/auth/me", "", as.alice).status == 401);
  CHECK(login_status(*s, "alice", "password1") == 401);
  CHECK(login_status(*s, "alice", "brand-new-1") == 200);
  CHECK(audit_rows(*s, "user.password_reset") == 1);

  // Bob changes his own: his other session ends, the one he used stays.
  Creds bob2{s->login("bob", "password1"), ""};
  Reply change = s->call("POST", "/api/v1/auth/password",
                         R"({"old_password":"password1","new_password":"bobs-new-pw"})", as.bob);
  REQUIRE_MESSAGE(change.status == 204, change.body);
  CHECK(s->call("GET", "/api/v1/auth/me", "", as.bob).status == 200);
  CHECK(s->call("GET", "/api/v1/auth/me", "", bob2).status == 401);
  CHECK(login_status(*s, "bob", "password1") == 401);
  CHECK(login_status(*s, "bob", "bobs-new-pw") == 200);
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'user.password_change' AND actor_name = 'bob'") == 1);

  // An API key has no password.
  auto key = create_api_key(s->pg(), {w.acme.id, "k", std::nullopt, ""}, Actor{});
  REQUIRE(key.is_ok());
  CHECK(s->call("POST", "/api/v1/auth/password", R"({"old_password":"password1","new_password":"whatever-1"})",
                {"", key->secret})
            .status == 403);
}

TEST_CASE("user admin: edit and delete users; the last admin stays") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  People as = log_in(*s);
  Reply edited = s->call("PATCH", "/api/v1/users/" + w.alice.id, R"({"display_name":"Alice Liu"})", as.root);
  REQUIRE_MESSAGE(edited.status == 200, edited.body);
  CHECK(edited.obj().at("display_name").as_string() == "Alice Liu");
  CHECK(edited.obj().at("disabled").as_bool() == false);
  // The same again changes nothing and writes no audit row.
  CHECK(s->call("PATCH", "/api/v1/users/" + w.alice.id, R"({"display_name":"Alice Liu"})", as.root).status == 200);
  CHECK(audit_rows(*s, "user.update") == 1);

  // Disabled: her session ends and she cannot sign in; enabled again she can.
  Reply disabled = s->call("PATCH", "/api/v1/users/" + w.alice.id, R"({"disabled":true})", as.root);
  REQUIRE(disabled.status == 200);
  CHECK(disabled.obj().at("disabled").as_bool());
  CHECK(s->call("GET", "/api/v1/auth/me", "", as.alice).status == 401);
  CHECK(login_status(*s, "alice", "password1") == 401);
  CHECK(s->call("PATCH", "/api/v1/users/" + w.alice.id, R"({"disabled":false,"display_name":null})", as.root).status == 200);
  CHECK(login_status(*s, "alice", "password1") == 200);

  // Roles: member -> operator of x (the tenant goes), and back.
  Reply op = s->call("PATCH", "/api/v1/users/" + w.alice.id, R"({"role":"operator","center_id":")" + w.x.id + R"("})", as.root);
  REQUIRE_MESSAGE(op.status == 200, op.body);
  CHECK(op.obj().at("tenant_id").is_null());
  CHECK(op.obj().at("center_id").as_string() == w.x.id);
  Reply back = s->call("PATCH", "/api/v1/users/" + w.alice.id, R"({"role":"member","tenant_id":")" + w.acme.id + R"("})", as.root);
  REQUIRE_MESSAGE(back.status == 200, back.body);
  CHECK(back.obj().at("center_id").is_null());
  CHECK(back.obj().at("tenant_id").as_string() == w.acme.id);

  // A second admin disables root; being then the only active admin, they
  // cannot demote themselves; root, enabled again, deletes them.
  auto admin2 = create_user(s->pg(), {"admin2", "password1", Role::kAdmin, "", ""}, Actor{}, s->ctx().kdf);
  REQUIRE(admin2.is_ok());
  Creds a2{s->login("admin2", "password1"), ""};
  CHECK(s->call("PATCH", "/api/v1/users/" + w.root.id, R"({"disabled":true})", a2).status == 200);
  // root is disabled: admin2 is the last active admin and cannot go.
  CHECK(s->call("PATCH", "/api/v1/users/" + admin2->id, R"({"role":"member","tenant_id":")" + w.acme.id + R"("})", a2).status == 409);
  CHECK(s->call("PATCH", "/api/v1/users/" + w.root.id, R"({"disabled":false})", a2).status == 200);
  Creds root2{s->login("root", "password1"), ""};
  CHECK(s->call("DELETE", "/api/v1/users/" + admin2->id, "", root2).status == 204);
  CHECK(s->call("GET", "/api/v1/auth/me", "", a2).status == 401);
  CHECK(s->call("DELETE", "/api/v1/users/" + admin2->id, "", root2).status == 404);

  // Deleting a member: their sessions go; the audit log keeps their name.
  Creds bob{s->login("bob", "password1"), ""};
  CHECK(s->call("DELETE", "/api/v1/users/" + w.bob.id, "", root2).status == 204);
  CHECK(s->call("GET", "/api/v1/auth/me", "", bob).status == 401);
  CHECK(s->count("SELECT count(*) FROM users WHERE username = 'bob'") == 0);
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'user.delete' AND details->>'username' = 'bob' "
                 "AND tenant_id = '" + w.beta.id + "'") == 1);
  Reply users = s->call("GET", "/api/v1/users", "", root2);
  REQUIRE(users.status == 200);
  for (const auto& u : users.obj().at("data").as_array()) {
    CHECK(u.as_object().contains("display_name"));
    CHECK(u.as_object().contains("disabled"));
  }
}

TEST_CASE("tenant memberships: list, remove (cannot sign in), add back; tenant settings") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  People as = log_in(*s);
  const std::string acme = "/api/v1/tenants/" + w.acme.id;
  Reply members = s->call("GET", acme + "/members", "", as.root);
  REQUIRE(members.status == 200);
  REQUIRE(members.obj().at("data").as_array().size() == 1);
  CHECK(members.obj().at("data").at(0).at("username").as_string() == "alice");
  CHECK(members.obj().at("data").at(0).at("role").as_string() == "member");

  // Removed: alice's session ends and she cannot sign in.
  REQUIRE(s->call("DELETE", acme + "/members/" + w.alice.id, "", as.root).status == 204);
  CHECK(s->call("GET", "/api/v1/auth/me", "", as.alice).status == 401);
  CHECK(login_status(*s, "alice", "password1") == 401);
  CHECK(s->call("GET", acme + "/members", "", as.root).obj().at("data").as_array().empty());
  CHECK(s->call("DELETE", acme + "/members/" + w.alice.id, "", as.root).status == 404);
  // Now without a tenant she can join beta; bob moves only after removal.
  Reply added = s->call("POST", "/api/v1/tenants/" + w.beta.id + "/members", R"({"username":"ALICE"})", as.root);
  REQUIRE_MESSAGE(added.status == 201, added.body);
  CHECK(added.obj().at("tenant_id").as_string() == w.beta.id);
  CHECK(login_status(*s, "alice", "password1") == 200);
  CHECK(s->call("GET", "/api/v1/tenants/" + w.beta.id + "/members", "", as.bob).obj().at("data").as_array().size() == 2);
  CHECK(audit_rows(*s, "tenant.member_remove") == 1);
  CHECK(audit_rows(*s, "tenant.member_add") == 1);

  // Tenant settings.
  Reply patched = s->call("PATCH", acme, R"({"display_name":"Acme Corp","allowed_regions":["hubei","beijing"],"max_replicas":9})", as.root);
  REQUIRE_MESSAGE(patched.status == 200, patched.body);
  CHECK(patched.obj().at("display_name").as_string() == "Acme Corp");
  CHECK(patched.obj().at("allowed_regions").as_array().size() == 2);
  CHECK(patched.obj().at("max_replicas").as_int64() == 9);
  CHECK(patched.obj().at("name").as_string() == "acme");
  Reply anywhere = s->call("PATCH", acme, R"({"allowed_regions":null})", as.root);
  REQUIRE(anywhere.status == 200);
  CHECK(anywhere.obj().at("allowed_regions").is_null());
  CHECK(anywhere.obj().at("display_name").as_string() == "Acme Corp");
  CHECK(s->call("PATCH", acme, R"({"max_replicas":9})", as.root).status == 200);  // no change
  CHECK(audit_rows(*s, "tenant.update") == 2);
}

}  // namespace
}  // namespace scn::broker
