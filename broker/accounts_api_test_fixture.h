// Test fixture for the account endpoints (include from *_test.cpp only): a
// fresh database, a unique Redis key prefix, the /api/v1 router with the
// account routes on a real http::Server, and helpers to call it over HTTP.
#pragma once

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "broker/accounts.h"
#include "broker/accounts_api.h"
#include "broker/api_key_auth.h"
#include "broker/session_auth.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"

namespace scn::broker::testing {

struct Reply {
  int status = 0;
  boost::json::value json;
  http::Headers headers;
  std::string body;

  const boost::json::object& obj() const { return json.as_object(); }
  std::string error_type() const {
    if (!json.is_object() || !json.as_object().contains("error")) return "";
    return std::string(json.at("error").at("type").as_string());
  }
};

// Credentials for one call: a session cookie value or an API key.
struct Creds {
  std::string cookie;
  std::string bearer;
};

class AccountsServer {
 public:
  // nullptr when the test is to be skipped (no PostgreSQL / Redis).
  // `more_routes` adds other endpoints to the same router (other tests).
  static std::unique_ptr<AccountsServer> start(
      const std::function<void(ApiRouter&, BrokerContext&)>& more_routes = {}) {
    auto db = db::testing::make_test_database();
    if (!db) return nullptr;
    auto redis_url = redis::testing::redis_url_for_tests();
    if (!redis_url) return nullptr;
    auto redis = redis::RedisClient::connect(*redis_url);
    REQUIRE_MESSAGE(redis.is_ok(), redis.status().to_string());
    auto s = std::unique_ptr<AccountsServer>(new AccountsServer());
    s->db_ = std::make_unique<db::testing::TestDatabase>(std::move(*db));
    s->redis_ = std::move(redis).value();
    s->ctx_ = std::make_unique<BrokerContext>(
        BrokerContext{*s->db_->pool, *s->redis_, *redis_url, crypto::KdfParams{10, 8, 1},
                      "scn:" + redis::testing::unique_key_prefix()});
    s->keys_ = std::make_unique<ApiKeyCache>(*s->db_->pool, std::chrono::milliseconds(0));
    s->router_ = std::make_unique<ApiRouter>(make_authenticator(*s->db_->pool, *s->keys_));
    add_account_routes(*s->router_, *s->ctx_);
    if (more_routes) more_routes(*s->router_, *s->ctx_);
    s->server_ = std::make_unique<http::Server>();
    s->router_->mount(*s->server_);
    Status st = s->server_->start();
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    s->base_ = "http://127.0.0.1:" + std::to_string(s->server_->port());
    return s;
  }

  ~AccountsServer() {
    if (server_) {
      server_->stop();
      server_->wait();
    }
  }

  BrokerContext& ctx() { return *ctx_; }
  db::PgPool& pg() { return *db_->pool; }
  const std::string& base() const { return base_; }

  Reply call(std::string_view method, const std::string& path, const std::string& body = {},
             const Creds& creds = {}) {
    http::Headers headers;
    if (!creds.cookie.empty()) headers.set("Cookie", std::string(kSessionCookie) + "=" + creds.cookie);
    if (!creds.bearer.empty()) headers.set("Authorization", "Bearer " + creds.bearer);
    if (!body.empty()) headers.set("Content-Type", "application/json");
    auto r = http::request(method, base_ + path, body, headers);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    Reply out;
    out.status = r->status;
    out.headers = r->headers;
    out.body = r->body;
    if (!r->body.empty()) {
      auto parsed = common::parse_json(r->body);
      REQUIRE_MESSAGE(parsed.is_ok(), r->body);
      out.json = std::move(parsed).value();
    }
    return out;
  }

  // Logs in and returns the session cookie's value.
  std::string login(const std::string& username, const std::string& password) {
    Reply r = call("POST", "/api/v1/auth/login",
                   R"({"username":")" + username + R"(","password":")" + password + R"("})");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    std::string cookie = r.headers.get_or("Set-Cookie", "");
    auto eq = cookie.find('=');
    auto semi = cookie.find(';');
    REQUIRE(eq != std::string::npos);
    return cookie.substr(eq + 1, semi - eq - 1);
  }

  long long count(const std::string& sql) {
    auto r = pg().with_tx([&](pqxx::work& tx) -> Result<long long> { return tx.exec(sql)[0][0].as<long long>(); });
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    return *r;
  }

 private:
  AccountsServer() = default;
  std::unique_ptr<db::testing::TestDatabase> db_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<BrokerContext> ctx_;
  std::unique_ptr<ApiKeyCache> keys_;
  std::unique_ptr<ApiRouter> router_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
};

// Two tenants (acme, beta) with a member each (alice, bob), two centers (x, y)
// with an operator each (opx, opy), and an admin (root); every password is
// "password1".
struct World {
  TenantInfo acme, beta;
  CenterInfo x, y;
  UserInfo root, alice, bob, opx, opy;

  static World make(AccountsServer& s) {
    World w;
    Actor sys;
    crypto::KdfParams kdf = s.ctx().kdf;
    auto tenant = [&](const char* name) {
      auto t = create_tenant(s.pg(), {name, "", std::nullopt, 4}, sys);
      REQUIRE_MESSAGE(t.is_ok(), t.status().to_string());
      return *t;
    };
    auto center = [&](const char* name) {
      auto c = create_center(s.pg(), {name, "region-" + std::string(name), 10, 0.1}, sys);
      REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
      return *c;
    };
    auto user = [&](const char* name, Role role, std::string tenant_id, std::string center_id) {
      auto u = create_user(s.pg(), {name, "password1", role, tenant_id, center_id}, sys, kdf);
      REQUIRE_MESSAGE(u.is_ok(), u.status().to_string());
      return *u;
    };
    w.acme = tenant("acme");
    w.beta = tenant("beta");
    w.x = center("x");
    w.y = center("y");
    w.root = user("root", Role::kAdmin, "", "");
    w.alice = user("alice", Role::kMember, w.acme.id, "");
    w.bob = user("bob", Role::kMember, w.beta.id, "");
    w.opx = user("opx", Role::kOperator, "", w.x.id);
    w.opy = user("opy", Role::kOperator, "", w.y.id);
    return w;
  }
};

// Sessions of every user of a World.
struct Sessions {
  Creds root, alice, bob, opx, opy;
};

inline Sessions log_in_all(AccountsServer& s) {
  return {{s.login("root", "password1"), ""}, {s.login("alice", "password1"), ""},
          {s.login("bob", "password1"), ""},  {s.login("opx", "password1"), ""},
          {s.login("opy", "password1"), ""}};
}

}  // namespace scn::broker::testing
