#include "broker/api_key_auth.h"

#include <doctest/doctest.h>

#include <thread>

#include "common/crypto/crypto.h"
#include "common/db/test_db.h"

namespace scn::broker {
namespace {

http::Request with_auth(std::string value) {
  http::Request r;
  r.headers.set("Authorization", value);
  return r;
}

// Inserts a tenant and returns its id.
std::string add_tenant(db::PgPool& pg, const std::string& name, const std::string& status = "active") {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    return tx.exec_params1("INSERT INTO tenants (name, display_name, status) VALUES ($1, $1, $2) RETURNING id",
                           name, status)[0].as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

// Inserts an API key; `extra` is SQL for (created_at, expires_at, revoked_at).
std::string add_key(db::PgPool& pg, const std::string& tenant, const std::string& name,
                    const std::string& key, const std::string& times = "now(), NULL, NULL") {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    return tx.exec_params1("INSERT INTO api_keys (tenant_id, name, prefix, key_hash, created_at, expires_at,"
                           " revoked_at) VALUES ($1, $2, $3, decode($4, 'hex'), " + times + ") RETURNING id",
                           tenant, name, key.substr(0, 8), crypto::to_hex(crypto::sha256(key)))[0]
        .as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

bool last_used_set(db::PgPool& pg, const std::string& key_id) {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<bool> {
    return tx.exec_params1("SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1", key_id)[0].as<bool>();
  });
  REQUIRE(r.is_ok());
  return *r;
}

}  // namespace

TEST_CASE("bearer_token reads Authorization: Bearer <token>") {
  struct Case {
    const char* header;
    const char* token;
  };
  const Case cases[] = {
      {"Bearer scn-key-abc", "scn-key-abc"},
      {"bearer scn-key-abc", "scn-key-abc"},
      {"BEARER   scn-key-abc  ", "scn-key-abc"},
      {"Basic dXNlcjpwdw==", ""},
      {"Bearer", ""},
      {"Bearer ", ""},
      {"Bearerx abc", ""},
      {"Bearer a b", ""},
      {"", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header);
    CHECK(bearer_token(with_auth(c.header)) == c.token);
  }
  CHECK(bearer_token(http::Request{}).empty());
}

TEST_CASE("authenticate_api_key: valid, unknown, revoked, expired, suspended tenant") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  const std::string tenant = add_tenant(pg, "acme");
  const std::string suspended = add_tenant(pg, "gone", "suspended");
  const std::string good = add_key(pg, tenant, "ci", "scn-key-good");
  add_key(pg, tenant, "old", "scn-key-revoked", "now() - interval '1 hour', NULL, now()");
  add_key(pg, tenant, "short", "scn-key-expired",
          "now() - interval '2 hours', now() - interval '1 hour', NULL");
  add_key(pg, suspended, "s", "scn-key-suspended");

  auto p = authenticate_api_key(pg, "scn-key-good");
  REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
  CHECK(p->kind == Principal::Kind::kApiKey);
  CHECK(p->role == Role::kMember);
  CHECK(p->tenant_id == tenant);
  CHECK(p->api_key_id == good);
  CHECK(p->username == "ci");
  CHECK(p->is_member_of(tenant));
  CHECK(last_used_set(pg, good));

  struct Case {
    const char* key;
    const char* message;
  };
  const Case bad[] = {
      {"", "invalid API key"},
      {"scn-key-unknown", "invalid API key"},
      {"scn-key-revoked", "API key revoked"},
      {"scn-key-expired", "API key expired"},
  };
  for (const auto& c : bad) {
    CAPTURE(c.key);
    auto r = authenticate_api_key(pg, c.key);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kUnauthenticated);
    CHECK(r.status().message() == c.message);
    CHECK_FALSE(is_tenant_suspended(r.status()));
  }
  // A suspended tenant's key: refused with 403 tenant_suspended, not 401.
  auto s = authenticate_api_key(pg, "scn-key-suspended");
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.status().code() == Code::kPermissionDenied);
  CHECK(s.status().http_status() == 403);
  CHECK(is_tenant_suspended(s.status()));
  CHECK_FALSE(is_tenant_suspended(Status::permission_denied("admins only")));
}

TEST_CASE("authenticate_api_key updates last_used_at at most once a minute") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  const std::string tenant = add_tenant(pg, "acme");
  const std::string id = add_key(pg, tenant, "ci", "scn-key-1");
  REQUIRE(authenticate_api_key(pg, "scn-key-1").is_ok());
  auto first = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    return tx.exec_params1("SELECT last_used_at::text FROM api_keys WHERE id = $1", id)[0].as<std::string>();
  });
  REQUIRE(first.is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(authenticate_api_key(pg, "scn-key-1").is_ok());
  auto second = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    return tx.exec_params1("SELECT last_used_at::text FROM api_keys WHERE id = $1", id)[0].as<std::string>();
  });
  REQUIRE(second.is_ok());
  CHECK(*first == *second);
  // Older than a minute: written again.
  REQUIRE(pg.with_tx([&](pqxx::work& tx) {
              tx.exec_params("UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1", id);
              return Status::ok();
            }).is_ok());
  REQUIRE(authenticate_api_key(pg, "scn-key-1").is_ok());
  auto fresh = pg.with_tx([&](pqxx::work& tx) -> Result<bool> {
    return tx.exec_params1("SELECT last_used_at > now() - interval '1 minute' FROM api_keys WHERE id = $1", id)[0]
        .as<bool>();
  });
  REQUIRE(fresh.is_ok());
  CHECK(*fresh);
}

TEST_CASE("ApiKeyCache remembers successes for its TTL, never failures") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  const std::string tenant = add_tenant(pg, "acme");
  const std::string id = add_key(pg, tenant, "ci", "scn-key-c");
  ApiKeyCache cache(pg, std::chrono::milliseconds(300));

  REQUIRE(cache.authenticate("scn-key-c").is_ok());
  REQUIRE(pg.with_tx([&](pqxx::work& tx) {
              tx.exec_params("UPDATE api_keys SET revoked_at = now() WHERE id = $1", id);
              return Status::ok();
            }).is_ok());
  // Within the TTL the cached principal answers.
  auto cached = cache.authenticate("scn-key-c");
  REQUIRE(cached.is_ok());
  CHECK(cached->api_key_id == id);
  // After it, the revocation is seen.
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  auto revoked = cache.authenticate("scn-key-c");
  REQUIRE_FALSE(revoked.is_ok());
  CHECK(revoked.status().message() == "API key revoked");

  // A failure is not cached: a key inserted after a failed look-up works at once.
  CHECK_FALSE(cache.authenticate("scn-key-later").is_ok());
  add_key(pg, tenant, "later", "scn-key-later");
  CHECK(cache.authenticate("scn-key-later").is_ok());
  CHECK_FALSE(cache.authenticate("").is_ok());
}

}  // namespace scn::broker
