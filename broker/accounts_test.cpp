#include "broker/accounts.h"

#include <doctest/doctest.h>

#include "common/db/test_db.h"

namespace scn::broker {
namespace {

const crypto::KdfParams kCheapKdf{10, 8, 1};

long long count(db::PgPool& pg, const std::string& sql) {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<long long> { return tx.exec(sql)[0][0].as<long long>(); });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

TEST_CASE("accounts: tenants") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  Actor admin;
  NewTenant spec;
  spec.name = "acme";
  spec.allowed_regions = std::vector<std::string>{"beijing", "shanghai"};
  spec.max_replicas = 4;
  auto t = create_tenant(pg, spec, admin);
  REQUIRE_MESSAGE(t.is_ok(), t.status().to_string());
  CHECK(t->name == "acme");
  CHECK(t->display_name == "acme");
  CHECK(t->status == "active");
  REQUIRE(t->allowed_regions.has_value());
  CHECK(*t->allowed_regions == std::vector<std::string>{"beijing", "shanghai"});
  CHECK(t->max_replicas == 4);
  CHECK(t->created_at.size() == 24);
  CHECK(t->created_at.back() == 'Z');

  auto by_name = find_tenant(pg, "acme");
  REQUIRE(by_name.is_ok());
  CHECK(by_name->id == t->id);
  auto by_id = find_tenant(pg, t->id);
  REQUIRE(by_id.is_ok());
  CHECK(by_id->name == "acme");
  CHECK(find_tenant(pg, "nope").status().code() == Code::kNotFound);
  CHECK(find_tenant(pg, "00000000-0000-0000-0000-000000000000").status().code() == Code::kNotFound);

  NewTenant open;
  open.name = "beta";
  open.display_name = "Beta Ltd. 北京";
  auto b = create_tenant(pg, open, admin);
  REQUIRE(b.is_ok());
  CHECK_FALSE(b->allowed_regions.has_value());
  CHECK(b->display_name == "Beta Ltd. 北京");

  auto dup = create_tenant(pg, spec, admin);
  CHECK(dup.status().code() == Code::kConflict);
  CHECK(dup.status().message() == "tenant 'acme' already exists");

  struct Bad {
    std::string name;
    std::string display;
    int max_replicas;
    Code code;
  };
  const Bad bad[] = {
      {"", "", 1, Code::kInvalidArgument},
      {"Acme", "", 1, Code::kInvalidArgument},
      {"-acme", "", 1, Code::kInvalidArgument},
      {"a_b", "", 1, Code::kInvalidArgument},
      {std::string(64, 'a'), "", 1, Code::kInvalidArgument},
      {"ok1", std::string(201, 'x'), 1, Code::kInvalidArgument},
      {"ok2", "bad\x01", 1, Code::kInvalidArgument},
      {"ok3", "\xff", 1, Code::kInvalidArgument},
      {"ok4", "", -1, Code::kUnprocessable},
      {"ok5", "", 10001, Code::kUnprocessable},
  };
  for (const auto& c : bad) {
    CAPTURE(c.name);
    NewTenant s;
    s.name = c.name;
    s.display_name = c.display;
    s.max_replicas = c.max_replicas;
    CHECK(create_tenant(pg, s, admin).status().code() == c.code);
  }
  auto list = list_tenants(pg);
  REQUIRE(list.is_ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "acme");
  CHECK(count(pg, "SELECT count(*) FROM audit_log WHERE action = 'tenant.create'") == 2);
  CHECK(count(pg, "SELECT count(*) FROM audit_log WHERE action = 'tenant.create' AND actor_kind = 'system'"
                  " AND target_id = '" + t->id + "' AND tenant_id = '" + t->id + "'") == 1);
}

TEST_CASE("accounts: centers, users, keys, join tokens") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  Actor admin;
  admin.kind = "user";
  admin.name = "root";
  admin.client_ip = "127.0.0.1";

  auto c = create_center(pg, {"gpu-a", "beijing", 12.5, 0.25}, admin);
  REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
  CHECK(c->price_gpu_hour == doctest::Approx(12.5));
  CHECK(c->price_cpu_core_hour == doctest::Approx(0.25));
  CHECK(c->currency == "CNY");
  CHECK(c->status == "active");
  CHECK(create_center(pg, {"gpu-a", "x", 0, 0}, admin).status().code() == Code::kConflict);
  CHECK(create_center(pg, {"gpu-b", "", 0, 0}, admin).status().code() == Code::kInvalidArgument);
  CHECK(create_center(pg, {"gpu-b", "r", -1, 0}, admin).status().code() == Code::kUnprocessable);
  CHECK(create_center(pg, {"gpu-b", "r", 0, 1e9}, admin).status().code() == Code::kUnprocessable);
  CHECK(find_center(pg, "gpu-a")->id == c->id);
  CHECK(list_centers(pg)->size() == 1);

  auto t = create_tenant(pg, {"acme", "", std::nullopt, 16}, admin);
  REQUIRE(t.is_ok());

  // Users of every role; a member by tenant name, an operator by center id.
  auto root = create_user(pg, {"root", "password1", Role::kAdmin, "", ""}, admin, kCheapKdf);
  REQUIRE_MESSAGE(root.is_ok(), root.status().to_string());
  CHECK(root->role == Role::kAdmin);
  auto op = create_user(pg, {"op.a", "password1", Role::kOperator, "", c->id}, admin, kCheapKdf);
  REQUIRE(op.is_ok());
  CHECK(op->center_id == c->id);
  auto mem = create_user(pg, {"Alice@acme", "password1", Role::kMember, "acme", ""}, admin, kCheapKdf);
  REQUIRE(mem.is_ok());
  CHECK(mem->tenant_id == t->id);
  CHECK(find_user(pg, "alice@ACME")->id == mem->id);
  CHECK(find_user(pg, mem->id)->username == "Alice@acme");
  CHECK(create_user(pg, {"ALICE@acme", "password1", Role::kMember, "acme", ""}, admin, kCheapKdf)
            .status().code() == Code::kConflict);
  struct BadUser {
    NewUser spec;
    Code code;
  };
  const BadUser bad[] = {
      {{"bob", "short", Role::kMember, "acme", ""}, Code::kInvalidArgument},
      {{"bo b", "password1", Role::kMember, "acme", ""}, Code::kInvalidArgument},
      {{"bob", "password1", Role::kMember, "", ""}, Code::kInvalidArgument},
      {{"bob", "password1", Role::kMember, "acme", c->id}, Code::kInvalidArgument},
      {{"bob", "password1", Role::kOperator, "", ""}, Code::kInvalidArgument},
      {{"bob", "password1", Role::kAdmin, "acme", ""}, Code::kInvalidArgument},
      {{"bob", "password1", Role::kMember, "no-such", ""}, Code::kNotFound},
      {{"bob", "password1", Role::kOperator, "", "00000000-0000-0000-0000-000000000000"}, Code::kNotFound},
  };
  for (const auto& b : bad) {
    CAPTURE(b.spec.username);
    CHECK(create_user(pg, b.spec, admin, kCheapKdf).status().code() == b.code);
  }
  CHECK(count(pg, "SELECT count(*) FROM users WHERE username = 'bob'") == 0);
  CHECK(count(pg, "SELECT count(*) FROM users WHERE password_hash LIKE 'scrypt$10$%'") == 3);

  // API keys: shown once, stored as SHA-256 only.
  auto key = create_api_key(pg, {"acme", "ci", 3600, mem->id}, admin);
  REQUIRE_MESSAGE(key.is_ok(), key.status().to_string());
  CHECK(key->secret.rfind("scn-key-", 0) == 0);
  CHECK(key->secret.size() == 8 + 43);
  CHECK(key->prefix == key->secret.substr(0, 12));
  CHECK(key->name == "ci");
  CHECK_FALSE(key->expires_at.empty());
  CHECK(count(pg, "SELECT count(*) FROM api_keys WHERE key_hash = decode('" +
                      crypto::to_hex(crypto::sha256(key->secret)) + "', 'hex') AND created_by IS NOT NULL") == 1);
  auto forever = create_api_key(pg, {t->id, "forever", std::nullopt, ""}, admin);
  REQUIRE(forever.is_ok());
  CHECK(forever->expires_at.empty());
  CHECK(forever->secret != key->secret);
  CHECK(create_api_key(pg, {"acme", "", std::nullopt, ""}, admin).status().code() == Code::kInvalidArgument);
  CHECK(create_api_key(pg, {"acme", "x", 0, ""}, admin).status().code() == Code::kUnprocessable);
  CHECK(create_api_key(pg, {"nope", "x", std::nullopt, ""}, admin).status().code() == Code::kNotFound);

  // Join tokens.
  auto tok = create_join_token(pg, {"gpu-a", 600, 2, op->id}, admin);
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().to_string());
  CHECK(tok->secret.rfind("scn-join-", 0) == 0);
  CHECK(tok->prefix == tok->secret.substr(0, 12));
  CHECK(count(pg, "SELECT count(*) FROM join_tokens WHERE max_uses = 2 AND expires_at > now() + interval '590 s'"
                  " AND expires_at < now() + interval '610 s'") == 1);
  CHECK(create_join_token(pg, {"gpu-a", 59, std::nullopt, ""}, admin).status().code() == Code::kUnprocessable);
  CHECK(create_join_token(pg, {"gpu-a", 2592001, std::nullopt, ""}, admin).status().code() == Code::kUnprocessable);
  CHECK(create_join_token(pg, {"gpu-a", 600, 0, ""}, admin).status().code() == Code::kUnprocessable);
  CHECK(create_join_token(pg, {"nope", 600, std::nullopt, ""}, admin).status().code() == Code::kNotFound);

  // Exactly one audit row per successful create, none for failures.
  CHECK(count(pg, "SELECT count(*) FROM audit_log") == 1 + 1 + 3 + 2 + 1);
  CHECK(count(pg, "SELECT count(*) FROM audit_log WHERE actor_name = 'root' AND client_ip = '127.0.0.1'") == 8);
  CHECK(count(pg, "SELECT count(*) FROM audit_log WHERE action = 'join_token.create' AND center_id = '" +
                      c->id + "'") == 1);
}

}  // namespace
}  // namespace scn::broker
