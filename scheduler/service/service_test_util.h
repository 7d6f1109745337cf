// Test support for the scheduler service (include from *_test.cpp only):
// a private redis-server per test (the contract's key names are fixed, and
// some tests FLUSHALL), and rows for a small pool in a scratch database.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/db/test_db.h"
#include "common/process/subprocess.h"
#include "common/redis/redis.h"
#include "common/json.h"
#include "common/metrics.h"
#include "scheduler/service/agent_api.h"
#include "scheduler/service/reconciler.h"
#include "scheduler/service/routes.h"
#include "scheduler/service/service_context.h"
#include "tests/testing.h"

namespace scn::scheduler::testing {

// redis-server on a free loopback port with its data in a temporary folder,
// stopped (SIGTERM, then SIGKILL) by the destructor.
class LocalRedis {
 public:
  static std::unique_ptr<LocalRedis> start() {
    auto r = std::unique_ptr<LocalRedis>(new LocalRedis());
    r->port_ = scn::testing::free_port();
    process::SpawnOptions o;
    o.argv = {"redis-server", "--port", std::to_string(r->port_), "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", "--dir", r->dir_.path().string()};
    o.log_path = r->dir_.file("redis.log");
    auto p = process::Subprocess::spawn(o);
    REQUIRE_MESSAGE(p.is_ok(), (std::string("redis-server: ") + p.status().to_string()));
    r->process_ = std::move(p).value();
    for (int i = 0; i < 200; ++i) {
      auto c = redis::RedisClient::connect(r->url());
      if (c.is_ok() && (*c)->ping().is_ok()) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL("redis-server did not start on port " << r->port_);
    return nullptr;
  }
  ~LocalRedis() {
    if (process_) process_->terminate(std::chrono::milliseconds(2000));
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  std::unique_ptr<redis::RedisClient> client() const {
    auto c = redis::RedisClient::connect(url());
    REQUIRE(c.is_ok());
    return std::move(c).value();
  }

 private:
  LocalRedis() = default;
  scn::testing::TempDir dir_;
  int port_ = 0;
  std::unique_ptr<process::Subprocess> process_;
};

inline std::string one(db::PgPool& pool, const std::string& sql) {
  auto r = pool.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    pqxx::result res = tx.exec(sql);
    if (res.empty() || res[0][0].is_null()) return std::string();
    return res[0][0].as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), (r.status().to_string() + " in " + sql));
  return *r;
}

inline std::string q(const std::string& s) { return "'" + s + "'"; }

inline std::string add_center(db::PgPool& pool, const std::string& name, const std::string& region,
                              double price_gpu_hour = 10) {
  return one(pool, "INSERT INTO centers (name, region, price_gpu_hour, price_cpu_core_hour) VALUES (" +
                       q(name) + ", " + q(region) + ", " + std::to_string(price_gpu_hour) +
                       ", 0.1) RETURNING id");
}

// A join token of the center; returns the plaintext token.
inline std::string add_join_token(db::PgPool& pool, const std::string& center_id,
                                  const std::string& expires = "now() + interval '1 hour'",
                                  const std::string& max_uses = "NULL", bool revoked = false) {
  std::string token = crypto::new_secret("scn-join-").value();
  one(pool, "INSERT INTO join_tokens (center_id, token_hash, prefix, expires_at, max_uses, revoked_at, "
            "created_at) VALUES (" +
                q(center_id) + ", decode(" + q(crypto::to_hex(crypto::sha256(token))) +
                ", 'hex'), 'scn-join', " + expires + ", " + max_uses + ", " +
                (revoked ? "now()" : "NULL") + ", now() - interval '2 hours') RETURNING id");
  return token;
}

inline std::string add_tenant(db::PgPool& pool, const std::string& name,
                              const std::string& allowed_regions = "NULL") {
  return one(pool, "INSERT INTO tenants (name, display_name, allowed_regions) VALUES (" + q(name) +
                       ", " + q(name) + ", " + allowed_regions + ") RETURNING id");
}

// A small model (stories260K's shape) with one file; returns the file id.
inline std::string add_model_file(db::PgPool& pool, int64_t size_bytes = 1'185'376) {
  one(pool, "INSERT INTO models (name, display_name, family, architecture, parameters, context_length, "
            "n_layers, n_heads, n_kv_heads, head_dim, licence) VALUES ('stories260K', 'stories260K', "
            "'llama', 'llama', 260000, 512, 5, 8, 4, 8, 'MIT') RETURNING id");
  return one(pool, "INSERT INTO model_files (model_id, quantization, file_name, size_bytes, sha256, uri) "
                   "SELECT id, 'F32', 'stories260K.gguf', " + std::to_string(size_bytes) +
                       ", repeat('a', 64), 'file:///models/stories260K.gguf' FROM models "
                       "WHERE name = 'stories260K' RETURNING id");
}

inline std::string add_service(db::PgPool& pool, const std::string& tenant_id, const std::string& file_id,
                               const std::string& name, int replicas,
                               const std::string& placement = "{}") {
  return one(pool, "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, "
                   "context_length, placement) SELECT " + q(tenant_id) + ", " + q(name) +
                       ", model_id, id, " + std::to_string(replicas) + ", 256, " + q(placement) +
                       "::jsonb FROM model_files WHERE id = " + q(file_id) + " RETURNING id");
}

// Everything a test of the service needs, with short timings.
struct Env {
  std::optional<db::testing::TestDatabase> db;
  std::unique_ptr<LocalRedis> redis_server;
  std::unique_ptr<redis::RedisClient> redis;
  metrics::Registry registry;
  SchedulerMetrics metrics{registry};
  SchedulerConfig config;
  std::unique_ptr<RouteWriter> routes;
  std::unique_ptr<AgentApi> api;
  std::unique_ptr<Reconciler> reconciler;

  db::PgPool& pool() { return *db->pool; }
};

// nullptr when the test is to be skipped (no PostgreSQL).
inline std::unique_ptr<Env> make_env(std::chrono::milliseconds node_ttl = std::chrono::milliseconds(600)) {
  auto database = db::testing::make_test_database();
  if (!database) return nullptr;
  auto env = std::make_unique<Env>();
  env->db.emplace(std::move(*database));
  env->redis_server = LocalRedis::start();
  env->redis = env->redis_server->client();
  env->config.heartbeat = std::chrono::milliseconds(200);
  env->config.node_ttl = node_ttl;
  env->config.loop = std::chrono::milliseconds(100);
  env->routes = std::make_unique<RouteWriter>(env->pool(), *env->redis);
  env->api = std::make_unique<AgentApi>(env->pool(), *env->redis, *env->routes, env->config, env->metrics);
  env->reconciler = std::make_unique<Reconciler>(env->pool(), *env->redis, *env->routes, env->config,
                                                 env->metrics);
  return env;
}

inline std::string register_body(const std::string& token, const std::string& name,
                                 const std::string& devices =
                                     R"([{"kind":"cpu","model":"Xeon","memory_bytes":17179869184,"count":8}])") {
  return R"({"join_token":")" + token + R"(","name":")" + name +
         R"(","address":"127.0.0.1","simulated":true,"labels":{"rack":"a"},"devices":)" + devices + "}";
}

// Registers a node; returns (node id, secret).
inline std::pair<std::string, std::string> register_node(Env& env, const std::string& token,
                                                         const std::string& name) {
  auto r = env.api->register_node(register_body(token, name));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return {r->node_id, r->node_secret};
}

// One heartbeat; `replicas` is the JSON array text of the reported replicas.
inline boost::json::object heartbeat(Env& env, const std::string& node_id, const std::string& secret,
                                     const std::string& replicas = "[]") {
  auto r = env.api->heartbeat("Bearer " + secret, R"({"node_id":")" + node_id +
                                                      R"(","free":{},"replicas":)" + replicas + "}");
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  REQUIRE(!r->removed);
  auto obj = common::parse_json_object(r->body);
  REQUIRE(obj.is_ok());
  return *obj;
}

// Two centers (guangdong, sichuan) with one CPU node each, a tenant and a model file.
struct Pool2 {
  std::string center_a, center_b, tenant, file;
  std::string n1, s1, n2, s2;
};

inline Pool2 make_pool(Env& env) {
  Pool2 p;
  p.center_a = add_center(env.pool(), "gd-1", "guangdong");
  p.center_b = add_center(env.pool(), "sc-1", "sichuan");
  std::tie(p.n1, p.s1) = register_node(env, add_join_token(env.pool(), p.center_a), "node-1");
  std::tie(p.n2, p.s2) = register_node(env, add_join_token(env.pool(), p.center_b), "node-2");
  p.tenant = add_tenant(env.pool(), "acme");
  p.file = add_model_file(env.pool());
  return p;
}

inline std::string replica_json(const std::string& id, const std::string& state, int port) {
  return R"({"replica_id":")" + id + R"(","state":")" + state + R"(","port":)" + std::to_string(port) +
         R"(,"restarts":0})";
}

inline std::vector<std::string> desired_ids(const boost::json::object& answer) {
  std::vector<std::string> out;
  for (const auto& r : answer.at("replicas").as_array())
    out.emplace_back(r.as_object().at("replica_id").as_string());
  return out;
}

}  // namespace scn::scheduler::testing
