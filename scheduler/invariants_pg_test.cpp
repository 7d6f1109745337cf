#include "scheduler/invariants_pg.h"

#include <doctest/doctest.h>

#include "common/db/pg.h"
#include "common/db/test_db.h"
#include "scheduler/assignment.h"

namespace scn::scheduler {
namespace {

std::string one(db::PgPool& pool, const std::string& sql) {
  auto r = pool.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    pqxx::result res = tx.exec(sql);
    if (res.empty() || res[0][0].is_null()) return std::string();
    return res[0][0].as<std::string>();
  });
  REQUIRE_MESSAGE(r.is_ok(), (r.status().to_string() + " in " + sql));
  return *r;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

struct Pool {
  std::string node, lost_node, gpu_row, lost_gpu_row, service, file;
};

// One center; node-1 (ready, 2 x 80 GiB GPUs + CPU row) and node-2 (lost 10 min ago, 1 GPU).
Pool make_pool(db::PgPool& pg) {
  Pool p;
  const std::string center = one(pg, "INSERT INTO centers (name, region, price_gpu_hour, price_cpu_core_hour) "
                                     "VALUES ('c1', 'beijing', 10, 0.1) RETURNING id");
  auto node = [&](const char* name, const char* status, const char* heartbeat) {
    return one(pg, "INSERT INTO nodes (center_id, name, address, secret_hash, status, last_heartbeat_at) VALUES (" +
                       q(center) + ", " + q(name) + ", '127.0.0.1', decode(md5(" + q(name) + ") || md5(" +
                       q(name) + "), 'hex'), " + q(status) + ", " + heartbeat + ") RETURNING id");
  };
  p.node = node("node-1", "ready", "now()");
  p.lost_node = node("node-2", "lost", "now() - interval '10 minutes'");
  const std::string gib80 = std::to_string(80 * kGiB);
  p.gpu_row = one(pg, "INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES (" + q(p.node) +
                          ", 'gpu', 'A100-80G', " + gib80 + ", 2) RETURNING id");
  one(pg, "INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES (" + q(p.node) +
              ", 'cpu', 'x86', " + std::to_string(256 * kGiB) + ", 32) RETURNING id");
  p.lost_gpu_row = one(pg, "INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES (" +
                               q(p.lost_node) + ", 'gpu', 'A100-80G', " + gib80 + ", 1) RETURNING id");
  const std::string tenant =
      one(pg, "INSERT INTO tenants (name, display_name) VALUES ('t1', 't1') RETURNING id");
  one(pg, "INSERT INTO models (name, display_name, family, architecture, parameters, context_length, "
          "n_layers, n_heads, n_kv_heads, head_dim, licence) VALUES ('m', 'm', 'llama', 'llama', 260000, 512, "
          "5, 8, 4, 8, 'MIT') RETURNING id");
  p.file = one(pg, "INSERT INTO model_files (model_id, quantization, file_name, size_bytes, sha256, uri) "
                   "SELECT id, 'F32', 'm.gguf', 1000, repeat('a', 64), 'file:///m.gguf' FROM models RETURNING id");
  p.service = one(pg, "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, "
                      "context_length, status) SELECT " + q(tenant) +
                          ", 's1', model_id, id, 2, 256, 'ready' FROM model_files RETURNING id");
  return p;
}

void replica(db::PgPool& pg, const Pool& p, const std::string& node, const std::string& row, int index,
             uint64_t gib, const char* state = "ready", const char* created = "now() - interval '1 hour'") {
  one(pg, "INSERT INTO replicas (service_id, node_id, device_id, device_indices, memory_bytes, state, created_at) "
          "VALUES (" + q(p.service) + ", " + q(node) + ", " + row + ", ARRAY[" + std::to_string(index) + "], " +
              std::to_string(gib * kGiB) + ", " + q(state) + ", " + created + ") RETURNING id");
}

std::vector<std::string> kinds(db::PgPool& pg) {
  auto in = load_invariant_input(pg, std::chrono::milliseconds(15000));
  REQUIRE_MESSAGE(in.is_ok(), in.status().to_string());
  std::vector<std::string> out;
  for (const auto& v : check_invariants(*in)) out.push_back(v.kind);
  return out;
}

TEST_CASE("scheduler check over PostgreSQL: each invariant") {
  struct Case {
    const char* name;
    void (*setup)(db::PgPool&, const Pool&);
    std::vector<std::string> expect;
  };
  const Case cases[] = {
      {"clean: two replicas share GPU 1 within its memory",
       [](db::PgPool& pg, const Pool& p) {
         replica(pg, p, p.node, p.gpu_row, 1, 40);
         replica(pg, p, p.node, p.gpu_row, 1, 40);
       },
       {}},
      {"GPU 0 over-committed",
       [](db::PgPool& pg, const Pool& p) {
         replica(pg, p, p.node, p.gpu_row, 0, 50);
         replica(pg, p, p.node, p.gpu_row, 0, 50, "failed");  // still holds its memory
       },
       {"gpu_overcommit", "service_below_min"}},  // a failed replica is not live
      {"a ready replica on a node lost for 10 minutes",
       [](db::PgPool& pg, const Pool& p) {
         replica(pg, p, p.node, p.gpu_row, 0, 10);
         replica(pg, p, p.lost_node, p.lost_gpu_row, 0, 10);
       },
       {"replica_on_lost_node"}},
      {"below its minimum with no reason",
       [](db::PgPool& pg, const Pool& p) { replica(pg, p, p.node, p.gpu_row, 0, 10); },
       {"service_below_min"}},
      {"below its minimum, a new replica is being placed",
       [](db::PgPool& pg, const Pool& p) {
         replica(pg, p, p.node, p.gpu_row, 0, 10);
         one(pg, "INSERT INTO replicas (service_id) VALUES (" + q(p.service) + ") RETURNING id");
       },
       {}},
      {"above its maximum",
       [](db::PgPool& pg, const Pool& p) {
         for (int i = 0; i < 3; ++i) replica(pg, p, p.node, p.gpu_row, 1, 10);
       },
       {"service_above_max"}},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    auto db = db::testing::make_test_database();
    if (!db) return;
    const Pool p = make_pool(**db);
    c.setup(**db, p);
    const std::vector<std::string> got = kinds(**db);
    std::string text;
    for (const auto& k : got) text += k + " ";
    CAPTURE(text);
    CHECK(got == c.expect);
  }
}

}  // namespace
}  // namespace scn::scheduler
