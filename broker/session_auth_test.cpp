#include "broker/session_auth.h"

#include <doctest/doctest.h>

#include <thread>

#include "broker/accounts_api_test_fixture.h"

namespace scn::broker {
namespace {

using testing::AccountsServer;
using testing::Creds;
using testing::Reply;
using testing::World;

std::string login_body(const std::string& user, const std::string& password) {
  return R"({"username":")" + user + R"(","password":")" + password + R"("})";
}

TEST_CASE("session cookie parsing and rendering") {
  struct Case {
    const char* header;
    const char* token;
  };
  const Case cases[] = {
      {"", ""},
      {"scn_session=abc", "abc"},
      {"a=1; scn_session=abc; b=2", "abc"},
      {"a=1;scn_session=\"q\"", "q"},
      {"scn_sessionx=abc", ""},
      {"other=scn_session", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.header));
    http::Request req;
    if (*c.header != '\0') req.headers.set("Cookie", c.header);
    CHECK(session_token(req) == c.token);
  }
  CHECK(session_cookie("tok") == "scn_session=tok; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
  CHECK(cleared_session_cookie() == "scn_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

TEST_CASE("login, me, logout over HTTP") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);

  Reply ok = s->call("POST", "/api/v1/auth/login", login_body("ALICE", "password1"));
  REQUIRE_MESSAGE(ok.status == 200, ok.body);
  std::string set_cookie = ok.headers.get_or("Set-Cookie", "");
  CHECK(set_cookie.rfind("scn_session=scn-sess-", 0) == 0);
  CHECK(set_cookie.find("; HttpOnly") != std::string::npos);
  CHECK(set_cookie.find("; SameSite=Strict") != std::string::npos);
  CHECK(set_cookie.find("; Path=/") != std::string::npos);
  CHECK(set_cookie.find("; Max-Age=43200") != std::string::npos);
  const auto& user = ok.obj().at("user").as_object();
  CHECK(user.at("id").as_string() == w.alice.id);
  CHECK(user.at("role").as_string() == "member");
  CHECK(user.at("tenant_id").as_string() == w.acme.id);
  CHECK(user.at("center_id").is_null());
  std::string token = set_cookie.substr(12, set_cookie.find(';') - 12);
  // Only the hash is stored; the session lasts 12 h; last_login_at is set.
  CHECK(s->count("SELECT count(*) FROM sessions WHERE token_hash = decode('" +
                 crypto::to_hex(crypto::sha256(token)) + "', 'hex') AND expires_at > now() + interval '11 hours 59 minutes'"
                 " AND expires_at <= now() + interval '12 hours'") == 1);
  CHECK(s->count("SELECT count(*) FROM users WHERE username = 'alice' AND last_login_at IS NOT NULL") == 1);
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'session.login'") == 1);

  Reply me = s->call("GET", "/api/v1/auth/me", "", Creds{token, ""});
  REQUIRE(me.status == 200);
  CHECK(me.obj().at("user").at("username").as_string() == "alice");

  // Garbage cookies and no credentials are 401.
  CHECK(s->call("GET", "/api/v1/auth/me").status == 401);
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{"scn-sess-nope", ""}).status == 401);
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{"", "scn-key-nope"}).error_type() == "authentication_error");

  Reply out = s->call("POST", "/api/v1/auth/logout", "", Creds{token, ""});
  CHECK(out.status == 204);
  CHECK(out.headers.get_or("Set-Cookie", "").find("Max-Age=0") != std::string::npos);
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{token, ""}).status == 401);
  CHECK(s->call("POST", "/api/v1/auth/logout", "", Creds{token, ""}).status == 401);

  // An expired session is refused.
  std::string token2 = s->login("bob", "password1");
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{token2, ""}).status == 200);
  s->count("WITH u AS (UPDATE sessions SET created_at = now() - interval '13 hours', "
           "expires_at = now() - interval '1 hour' WHERE revoked_at IS NULL RETURNING 1) SELECT count(*) FROM u");
  CHECK(s->call("GET", "/api/v1/auth/me", "", Creds{token2, ""}).status == 401);

  // An API key: me answers the key; logout is not for keys.
  auto key = create_api_key(s->pg(), {w.acme.id, "ci", std::nullopt, ""}, Actor{});
  REQUIRE(key.is_ok());
  Reply key_me = s->call("GET", "/api/v1/auth/me", "", Creds{"", key->secret});
  REQUIRE(key_me.status == 200);
  CHECK(key_me.obj().at("api_key").at("id").as_string() == key->id);
  CHECK(key_me.obj().at("api_key").at("tenant_id").as_string() == w.acme.id);
  CHECK(s->call("POST", "/api/v1/auth/logout", "", Creds{"", key->secret}).status == 403);
}

TEST_CASE("login: bad credentials, bad bodies, throttle") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);

  Reply wrong = s->call("POST", "/api/v1/auth/login", login_body("alice", "password2"));
  Reply unknown = s->call("POST", "/api/v1/auth/login", login_body("nobody", "password1"));
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.obj().at("error").at("message") == unknown.obj().at("error").at("message"));
  CHECK(wrong.headers.get_or("Set-Cookie", "").empty());

  struct Bad {
    std::string body;
    int status;
  };
  const Bad bad[] = {
      {"", 400},
      {"{", 400},
      {"[]", 400},
      {R"({"username":"alice"})", 400},
      {R"({"username":1,"password":"password1"})", 400},
      {R"({"username":"alice","password":["x"]})", 400},
      {"{\"username\":\"al\xffice\",\"password\":\"password1\"}", 400},
      {R"({"username":")" + std::string(5000, 'a') + R"(","password":"password1"})", 401},
  };
  for (const auto& b : bad) {
    std::string start = b.body.substr(0, 40);
    CAPTURE(start);
    Reply r = s->call("POST", "/api/v1/auth/login", b.body);
    CHECK(r.status == b.status);
  }

  // 10 failures for one user (case-insensitive): then 429, even with the
  // right password, until the window expires. Other users are unaffected.
  for (int i = 0; i < 9; ++i) {
    CHECK(s->call("POST", "/api/v1/auth/login", login_body(i % 2 ? "BOB" : "bob", "wrong-pass")).status == 401);
  }
  CHECK(s->call("POST", "/api/v1/auth/login", login_body("bob", "wrong-pass")).status == 401);
  Reply limited = s->call("POST", "/api/v1/auth/login", login_body("bob", "password1"));
  CHECK(limited.status == 429);
  CHECK(limited.error_type() == "rate_limit_error");
  CHECK(std::stoi(limited.headers.get_or("Retry-After", "0")) > 0);
  CHECK(std::stoi(limited.headers.get_or("Retry-After", "0")) <= 300);
  const std::string key = s->ctx().redis_prefix + "login-fail:bob";
  auto ttl = s->ctx().redis.pttl(key);
  REQUIRE(ttl.is_ok());
  CHECK(*ttl > 290000);
  CHECK(*ttl <= 300000);
  CHECK(s->login("alice", "password1").size() > 20);
  // The window passes: bob logs in again and the count is cleared.
  REQUIRE(s->ctx().redis.expire(key, std::chrono::milliseconds(1)).is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(s->login("bob", "password1").size() > 20);
  CHECK_FALSE(s->ctx().redis.get(key)->has_value());
  (void)w;
}

}  // namespace
}  // namespace scn::broker
