// The constraints of sql/0001_init.sql, on a real PostgreSQL: what the schema
// must refuse, with the Status code callers will see.
#include <doctest/doctest.h>

#include "common/db/pg.h"
#include "common/db/test_db.h"

namespace scn::db {
namespace {

using testing::make_test_database;

Status exec(PgPool& pool, const std::string& sql) {
  return pool.with_tx([&](pqxx::work& tx) {
    tx.exec(sql);
    return Status::ok();
  });
}

// Rows every case starts from (ids fixed so that the cases can name them).
constexpr const char* kFixture = R"sql(
INSERT INTO tenants (id, name, display_name) VALUES
  ('00000000-0000-0000-0000-00000000000a', 'acme', 'Acme'),
  ('00000000-0000-0000-0000-00000000000b', 'globex', 'Globex');
INSERT INTO centers (id, name, region, price_gpu_hour, price_cpu_core_hour) VALUES
  ('00000000-0000-0000-0000-0000000000c1', 'guiyang-1', 'Guizhou', 12.5, 0.05);
INSERT INTO users (username, password_hash, role) VALUES ('root', 'scrypt$0123456789abcdef', 'admin');
INSERT INTO users (username, password_hash, role, center_id)
  VALUES ('op', 'scrypt$0123456789abcdef', 'operator', '00000000-0000-0000-0000-0000000000c1');
INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash) VALUES
  ('00000000-0000-0000-0000-0000000000ab', '00000000-0000-0000-0000-00000000000b', 'ci', 'scn-abcd',
   sha256('globex key'));
INSERT INTO nodes (id, center_id, name, address, secret_hash, simulated, labels) VALUES
  ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000c1', 'n1',
   '127.0.0.1', sha256('n1 secret'), true, '{"rack": "r1"}');
INSERT INTO devices (id, node_id, kind, model, memory_bytes, count) OVERRIDING SYSTEM VALUE VALUES
  (1, '00000000-0000-0000-0000-0000000000d1', 'gpu', 'H200', 150000000000, 8),
  (2, '00000000-0000-0000-0000-0000000000d1', 'cpu', 'x86_64', 68719476736, 32);
INSERT INTO models (id, name, display_name, family, architecture, parameters, context_length,
                    n_layers, n_heads, n_kv_heads, head_dim, licence) VALUES
  ('00000000-0000-0000-0000-0000000000e1', 'stories260K', 'Stories 260K', 'llama', 'llama',
   260000, 512, 5, 8, 4, 8, 'MIT');
INSERT INTO model_files (id, model_id, quantization, file_name, size_bytes, sha256, uri) VALUES
  ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000e1', 'F32',
   'stories260K.gguf', 1185376, repeat('0', 64), 'file:///models/stories260K.gguf');
INSERT INTO services (id, tenant_id, name, model_id, model_file_id, replicas_wanted, context_length)
  VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000000a', 'chat',
          '00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-0000000000f1', 2, 512);
INSERT INTO replicas (service_id) VALUES ('00000000-0000-0000-0000-0000000000a1');
)sql";

constexpr const char* kAcme = "'00000000-0000-0000-0000-00000000000a'";
constexpr const char* kService = "'00000000-0000-0000-0000-0000000000a1'";

TEST_CASE("the schema's constraints refuse inconsistent rows") {
  auto db = make_test_database();
  if (!db) return;
  REQUIRE(exec(**db, kFixture).is_ok());
  const std::string acme = kAcme;
  const std::string service = kService;
  const std::string node = "'00000000-0000-0000-0000-0000000000d1'";
  struct Case {
    std::string what;
    std::string sql;
    Code code;  // kOk: must succeed
  };
  const Case cases[] = {
      {"tenant names are unique", "INSERT INTO tenants (name, display_name) VALUES ('acme', 'x')",
       Code::kConflict},
      {"tenant names are slugs", "INSERT INTO tenants (name, display_name) VALUES ('Bad Name', 'x')",
       Code::kInvalidArgument},
      {"usernames are unique ignoring case",
       "INSERT INTO users (username, password_hash, role) VALUES ('ROOT', 'scrypt$0123456789abcdef', 'admin')",
       Code::kConflict},
      {"an operator needs a center",
       "INSERT INTO users (username, password_hash, role) VALUES ('op2', 'scrypt$0123456789abcdef', 'operator')",
       Code::kInvalidArgument},
      {"a member needs an existing tenant",
       "INSERT INTO users (username, password_hash, role, tenant_id) VALUES ('m', "
       "'scrypt$0123456789abcdef', 'member', gen_random_uuid())",
       Code::kNotFound},
      {"API keys store a 32-byte hash",
       "INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES (" + acme +
           ", 'k', 'scn-1234', 'short')",
       Code::kInvalidArgument},
      {"API key hashes are unique",
       "INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES (" + acme +
           ", 'k', 'scn-1234', sha256('globex key'))",
       Code::kConflict},
      {"API keys expire after their creation",
       "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, expires_at) VALUES (" + acme +
           ", 'k', 'scn-1234', sha256('k2'), now() - interval '1 day')",
       Code::kInvalidArgument},
      {"prices are not negative",
       "INSERT INTO centers (name, region, price_gpu_hour) VALUES ('c2', 'Beijing', -1)",
       Code::kInvalidArgument},
      {"join tokens expire", "INSERT INTO join_tokens (center_id, token_hash, prefix, expires_at) "
                             "VALUES ('00000000-0000-0000-0000-0000000000c1', sha256('t'), 'jt-1', now() - interval '1 s')",
       Code::kInvalidArgument},
      {"node names are unique per center",
       "INSERT INTO nodes (center_id, name, address, secret_hash) VALUES "
       "('00000000-0000-0000-0000-0000000000c1', 'n1', 'h', sha256('other'))",
       Code::kConflict},
      {"labels are a JSON object",
       "UPDATE nodes SET labels = '[1, 2]' WHERE id = " + node, Code::kInvalidArgument},
      {"a center with nodes cannot be deleted",
       "DELETE FROM centers WHERE name = 'guiyang-1'", Code::kConflict},
      {"device kinds are cpu or gpu",
       "INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES (" + node +
           ", 'tpu', 'v5', 1, 1)",
       Code::kInvalidArgument},
      {"a fetchable file has a sha256",
       "INSERT INTO model_files (model_id, quantization, file_name, size_bytes, uri) VALUES "
       "('00000000-0000-0000-0000-0000000000e1', 'Q8_0', 'x.gguf', 10, 'https://store/x.gguf')",
       Code::kInvalidArgument},
      {"weights that are nowhere are allowed (uri NULL)",
       "INSERT INTO model_files (model_id, quantization, file_name, size_bytes) VALUES "
       "('00000000-0000-0000-0000-0000000000e1', 'Q4_K_M', 'x.gguf', 10)",
       Code::kOk},
      {"service names are unique per tenant",
       "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, context_length) "
       "VALUES (" + acme + ", 'chat', '00000000-0000-0000-0000-0000000000e1', "
       "'00000000-0000-0000-0000-0000000000f1', 1, 512)",
       Code::kConflict},
      {"another tenant may use the same service name",
       "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, context_length) "
       "VALUES ('00000000-0000-0000-0000-00000000000b', 'chat', '00000000-0000-0000-0000-0000000000e1', "
       "'00000000-0000-0000-0000-0000000000f1', 1, 512)",
       Code::kOk},
      {"a service's file belongs to its model",
       "INSERT INTO models (id, name, display_name, family, architecture, parameters, context_length, "
       "n_layers, n_heads, n_kv_heads, head_dim, licence) VALUES ('00000000-0000-0000-0000-0000000000e2', "
       "'other', 'Other', 'qwen2', 'qwen2', 1, 1, 1, 1, 1, 1, 'Apache-2.0'); "
       "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, context_length) "
       "VALUES (" + acme + ", 'mixed', '00000000-0000-0000-0000-0000000000e2', "
       "'00000000-0000-0000-0000-0000000000f1', 1, 512)",
       Code::kNotFound},
      {"replicas wanted stay in range",
       "UPDATE services SET replicas_wanted = -1 WHERE id = " + service, Code::kInvalidArgument},
      {"a bound replica has a node",
       "UPDATE replicas SET state = 'ready' WHERE service_id = " + service, Code::kInvalidArgument},
      {"a replica's device is on its node",
       "INSERT INTO nodes (id, center_id, name, address, secret_hash) VALUES "
       "('00000000-0000-0000-0000-0000000000d2', '00000000-0000-0000-0000-0000000000c1', 'n2', 'h2', "
       "sha256('n2')); "
       "UPDATE replicas SET state = 'scheduled', node_id = '00000000-0000-0000-0000-0000000000d2', "
       "device_id = 1 WHERE service_id = " + service,
       Code::kNotFound},
      {"binding a replica to a node and one of its devices",
       "UPDATE replicas SET state = 'scheduled', node_id = " + node +
           ", device_id = 1, device_indices = '{0}', port = 9001 WHERE service_id = " + service,
       Code::kOk},
      {"two live replicas never share a node port",
       "INSERT INTO replicas (service_id, state, node_id, port) VALUES (" + service + ", 'starting', " +
           node + ", 9001)",
       Code::kConflict},
      {"a node with replicas cannot be deleted", "DELETE FROM nodes WHERE id = " + node,
       Code::kConflict},
      {"usage belongs to a service of the same tenant",
       "INSERT INTO usage_records (tenant_id, service_id, period_start, period_end) VALUES "
       "('00000000-0000-0000-0000-00000000000b', " + service + ", now(), now())",
       Code::kNotFound},
      {"usage is charged with a key of the same tenant",
       "INSERT INTO usage_records (tenant_id, service_id, api_key_id, period_start, period_end) VALUES "
       "(" + acme + ", " + service + ", '00000000-0000-0000-0000-0000000000ab', now(), now())",
       Code::kNotFound},
      {"usage counts are not negative",
       "INSERT INTO usage_records (tenant_id, service_id, period_start, period_end, prompt_tokens) "
       "VALUES (" + acme + ", " + service + ", now(), now(), -5)",
       Code::kInvalidArgument},
      {"a tenant with services cannot be deleted", "DELETE FROM tenants WHERE id = " + acme,
       Code::kConflict},
      {"audit actions are dotted names",
       "INSERT INTO audit_log (actor_kind, actor_name, action) VALUES ('user', 'root', 'Create Service')",
       Code::kInvalidArgument},
      {"an audit row", "INSERT INTO audit_log (actor_kind, actor_name, action, details) VALUES "
                       "('user', 'root', 'service.create', '{\"replicas\": 2}')",
       Code::kOk},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    Status st = exec(**db, c.sql);
    CHECK_MESSAGE(st.code() == c.code, st.to_string());
  }
}

TEST_CASE("updated_at follows updates and deleted services free their name") {
  auto db = make_test_database();
  if (!db) return;
  REQUIRE(exec(**db, kFixture).is_ok());
  auto moved = (*db)->with_tx([](pqxx::work& tx) -> Result<bool> {
    // The fixture was written by an earlier transaction; now() is this one's start.
    tx.exec("UPDATE tenants SET display_name = 'Acme Inc.' WHERE name = 'acme'");
    return tx.exec1("SELECT updated_at = now() FROM tenants WHERE name = 'acme'")[0].as<bool>();
  });
  REQUIRE(moved.is_ok());
  CHECK(*moved);

  std::string again =
      "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, context_length) "
      "VALUES (" + std::string(kAcme) + ", 'chat', '00000000-0000-0000-0000-0000000000e1', "
      "'00000000-0000-0000-0000-0000000000f1', 1, 512)";
  CHECK(exec(**db, again).code() == Code::kConflict);
  CHECK(exec(**db, "UPDATE services SET status = 'deleted' WHERE id = " + std::string(kService))
            .code() == Code::kInvalidArgument);  // deleted_at must come with it
  REQUIRE(exec(**db, "UPDATE services SET status = 'deleted', deleted_at = now() WHERE id = " +
                         std::string(kService))
              .is_ok());
  CHECK(exec(**db, again).is_ok());
}

}  // namespace
}  // namespace scn::db
