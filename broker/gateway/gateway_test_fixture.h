// Test support for the gateway tests (include from *_test.cpp only): rows
// of the platform's schema inserted with plain SQL.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"

namespace scn::broker::testing {

inline std::string sql_one(db::PgPool& pg, const std::string& sql) {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    auto res = tx.exec(sql);
    return res.empty() || res[0][0].is_null() ? std::string() : res[0][0].as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), (r.status().to_string() + " in " + sql));
  return *r;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

inline std::string add_tenant(db::PgPool& pg, const std::string& name) {
  return sql_one(pg, "INSERT INTO tenants (name, display_name) VALUES (" + quote(name) + ", " + quote(name) +
                         ") RETURNING id");
}

inline std::string add_api_key(db::PgPool& pg, const std::string& tenant, const std::string& key) {
  return sql_one(pg, "INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES (" + quote(tenant) +
                         ", 'test', " + quote(key.substr(0, 8)) + ", decode(" +
                         quote(crypto::to_hex(crypto::sha256(key))) + ", 'hex')) RETURNING id");
}

inline void revoke_api_key(db::PgPool& pg, const std::string& id) {
  sql_one(pg, "UPDATE api_keys SET revoked_at = now() WHERE id = " + quote(id) + " RETURNING id");
}

// A center with one node at 127.0.0.1 (status given) and its CPU device.
inline std::string add_node(db::PgPool& pg, const std::string& name, const std::string& status = "ready") {
  std::string center = sql_one(pg, "SELECT id FROM centers WHERE name = 'c1'");
  if (center.empty()) {
    center = sql_one(pg, "INSERT INTO centers (name, region) VALUES ('c1', 'r1') RETURNING id");
  }
  std::string node = sql_one(
      pg, "INSERT INTO nodes (center_id, name, address, status, secret_hash) VALUES (" + quote(center) + ", " +
              quote(name) + ", '127.0.0.1', " + quote(status) + ", decode(" +
              quote(crypto::to_hex(crypto::sha256(name))) + ", 'hex')) RETURNING id");
  sql_one(pg, "INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES (" + quote(node) +
                  ", 'cpu', 'x86', 8589934592, 4) RETURNING id");
  return node;
}

// The catalog's stories260K model and file (once), and a service of it.
inline std::string add_service(db::PgPool& pg, const std::string& tenant, const std::string& name) {
  std::string model = sql_one(pg, "SELECT id FROM models WHERE name = 'stories260K'");
  if (model.empty()) {
    model = sql_one(pg,
                    "INSERT INTO models (name, display_name, family, architecture, parameters, context_length,"
                    " n_layers, n_heads, n_kv_heads, head_dim, licence) VALUES ('stories260K', 'Stories 260K',"
                    " 'llama', 'llama', 260000, 512, 5, 8, 4, 8, 'MIT') RETURNING id");
    sql_one(pg, "INSERT INTO model_files (model_id, quantization, file_name, size_bytes) VALUES (" +
                    quote(model) + ", 'F32', 'stories260K.gguf', 1185376) RETURNING id");
  }
  std::string file = sql_one(pg, "SELECT id FROM model_files WHERE model_id = " + quote(model));
  return sql_one(pg,
                 "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, context_length,"
                 " status) VALUES (" + quote(tenant) + ", " + quote(name) + ", " + quote(model) + ", " +
                     quote(file) + ", 2, 512, 'ready') RETURNING id");
}

inline std::string add_replica(db::PgPool& pg, const std::string& service, const std::string& node, int port,
                               const std::string& state = "ready") {
  return sql_one(pg, "INSERT INTO replicas (service_id, node_id, port, state) VALUES (" + quote(service) + ", " +
                         quote(node) + ", " + std::to_string(port) + ", " + quote(state) + ") RETURNING id");
}

}  // namespace scn::broker::testing
