#include "scheduler/invariants_pg.h"

#include <cstdio>
#include <map>

#include "common/config.h"
#include "common/db/pg.h"
#include "common/json.h"

namespace scn::scheduler {

Result<InvariantInput> load_invariant_input(db::PgPool& pool, std::chrono::milliseconds node_ttl) {
  const std::string ttl_ms = std::to_string(node_ttl.count());
  db::TxOptions options;
  options.isolation = db::Isolation::kRepeatableRead;
  options.read_only = true;
  return pool.with_tx(
      [&](pqxx::work& tx) -> Result<InvariantInput> {
        InvariantInput in;
        in.lost_ttl_ms = node_ttl.count();
        std::map<std::string, size_t> index;
        for (const auto& row : tx.exec_params(
                 "SELECT id, status = 'lost', greatest(0, (extract(epoch FROM now() - "
                 "coalesce(last_heartbeat_at, registered_at)) * 1000)::bigint - $1::bigint) "
                 "FROM nodes WHERE status <> 'removed' ORDER BY id",
                 ttl_ms)) {
          NodeCapacity n;
          n.node_id = row[0].as<std::string>();
          n.lost = row[1].as<bool>();
          n.lost_for_ms = n.lost ? row[2].as<int64_t>() : 0;
          index[n.node_id] = in.nodes.size();
          in.nodes.push_back(std::move(n));
        }
        std::map<int64_t, int> offsets;  // GPU device row -> first node-wide index
        std::map<int64_t, bool> cpu_rows;
        for (const auto& row : tx.exec(
                 "SELECT d.node_id, d.id, d.kind, d.memory_bytes, d.count FROM devices d "
                 "JOIN nodes n ON n.id = d.node_id WHERE n.status <> 'removed' ORDER BY d.node_id, d.id")) {
          auto it = index.find(row[0].as<std::string>());
          if (it == index.end()) continue;
          NodeCapacity& node = in.nodes[it->second];
          const int64_t id = row[1].as<int64_t>();
          const auto memory = static_cast<uint64_t>(row[3].as<int64_t>());
          if (row[2].as<std::string>() == "cpu") {
            node.ram_bytes = memory;
            cpu_rows[id] = true;
            continue;
          }
          offsets[id] = static_cast<int>(node.gpus.size());
          const int64_t count = row[4].as<int64_t>();
          for (int64_t i = 0; i < count; ++i) node.gpus.emplace_back(static_cast<int>(node.gpus.size()), memory);
        }
        for (const auto& row : tx.exec(
                 "SELECT id, service_id, node_id, state, device_id, array_to_json(device_indices)::text, "
                 "memory_bytes FROM replicas WHERE node_id IS NOT NULL AND state IN "
                 "('scheduled', 'starting', 'ready', 'failed', 'stopping') ORDER BY id")) {
          BoundReplica r;
          r.replica_id = row[0].as<std::string>();
          r.service_id = row[1].as<std::string>();
          r.node_id = row[2].as<std::string>();
          const std::string state = row[3].as<std::string>();
          r.live = state == "scheduled" || state == "starting" || state == "ready";
          r.memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, row[6].as<int64_t>()));
          const int64_t device = row[4].is_null() ? 0 : row[4].as<int64_t>();
          auto off = offsets.find(device);
          if (device == 0 || cpu_rows.count(device) || off == offsets.end()) {
            r.kind = DeviceKind::kCpu;
            in.replicas.push_back(std::move(r));
            continue;
          }
          r.kind = DeviceKind::kGpu;
          auto indices = common::parse_json(row[5].as<std::string>());
          if (!indices.is_ok() || !indices->is_array() || indices->as_array().empty()) {
            r.gpu_index = -1;  // names no GPU: reported as a GPU the node lacks
            in.replicas.push_back(std::move(r));
            continue;
          }
          for (const auto& v : indices->as_array()) {  // one entry per GPU it holds
            BoundReplica each = r;
            each.gpu_index = off->second + static_cast<int>(v.is_int64() ? v.as_int64() : -1000000);
            in.replicas.push_back(std::move(each));
          }
        }
        for (const auto& row : tx.exec_params(
                 "SELECT s.id, coalesce(s.min_replicas, s.replicas_wanted), "
                 "coalesce(s.max_replicas, s.replicas_wanted), "
                 "(SELECT count(*) FROM replicas r WHERE r.service_id = s.id AND r.replaces IS NULL AND "
                 " r.state IN ('scheduled', 'starting', 'ready')), "
                 "s.status_reason IS NOT NULL OR EXISTS (SELECT 1 FROM replicas r WHERE r.service_id = s.id AND "
                 " ((r.state = 'pending' AND r.reason IS NOT NULL) OR "
                 "  r.created_at > now() - $1::bigint * interval '1 millisecond')) "
                 "FROM services s WHERE s.deleted_at IS NULL AND s.status NOT IN ('stopped', 'deleted') "
                 "ORDER BY s.id",
                 ttl_ms)) {
          ServiceBounds b;
          b.service_id = row[0].as<std::string>();
          b.min_replicas = row[1].as<int>();
          b.max_replicas = row[2].as<int>();
          b.replicas = static_cast<int>(row[3].as<int64_t>());
          b.has_reason = row[4].as<bool>();
          in.services.push_back(std::move(b));
        }
        return in;
      },
      options);
}

int check_main(int argc, char** argv) {
  std::string pg_url;
  int64_t node_ttl_ms = 15000;
  common::OptionSet opts("scn scheduler check",
                         "verify the scheduler's invariants over PostgreSQL: no GPU over-committed, no "
                         "service outside min..max without a reason, no replica on a lost node past the TTL");
  opts.add("pg-url", &pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .require("pg-url")
      .add("node-ttl-ms", &node_ttl_ms, "a node without heartbeat for this long is lost (the scheduler's TTL)");
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn scheduler check: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (node_ttl_ms <= 0) {
    std::fprintf(stderr, "scn scheduler check: --node-ttl-ms must be > 0\n");
    return 2;
  }
  db::PgOptions po;
  po.url = pg_url;
  po.pool_size = 1;
  auto pool = db::PgPool::connect(po);
  if (!pool.is_ok()) {
    std::fprintf(stderr, "scn scheduler check: %s\n", pool.status().to_string().c_str());
    return 2;
  }
  auto in = load_invariant_input(**pool, std::chrono::milliseconds(node_ttl_ms));
  if (!in.is_ok()) {
    std::fprintf(stderr, "scn scheduler check: %s\n", in.status().to_string().c_str());
    return 2;
  }
  const auto violations = check_invariants(*in);
  std::fputs(format_violations(violations).c_str(), stdout);
  std::printf("%zu violations over %zu nodes, %zu bound replicas, %zu services\n", violations.size(),
              in->nodes.size(), in->replicas.size(), in->services.size());
  return violations.empty() ? 0 : 1;
}

}  // namespace scn::scheduler
