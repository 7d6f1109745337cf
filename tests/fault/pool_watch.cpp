#include "tests/fault/pool_watch.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/db/pg.h"
#include "scheduler/invariants.h"
#include "scheduler/invariants_pg.h"

namespace scn::fault {

namespace fs = std::filesystem;

Result<std::vector<LiveReplica>> live_replicas(db::PgPool& pg, const std::string& service_id) {
  return pg.with_tx(
      [&](pqxx::work& tx) -> Result<std::vector<LiveReplica>> {
        std::vector<LiveReplica> out;
        for (const auto& row : tx.exec_params(
                 "SELECT r.id::text, r.node_id::text, n.name, r.state, coalesce(r.port, 0)"
                 "  FROM replicas r JOIN nodes n ON n.id = r.node_id"
                 " WHERE r.service_id = $1 AND r.state IN ('scheduled', 'starting', 'ready')"
                 " ORDER BY r.id",
                 service_id)) {
          out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                         row[3].as<std::string>(), row[4].as<int>()});
        }
        return out;
      },
      db::TxOptions{.read_only = true});
}

bool ready_elsewhere(db::PgPool& pg, const std::string& service_id, int wanted, const std::string& avoid_node) {
  auto live = live_replicas(pg, service_id);
  if (!live.is_ok()) return false;
  int ready = 0;
  for (const auto& r : *live) {
    if (r.state != "ready") continue;
    if (r.node_id == avoid_node) return false;
    ++ready;
  }
  return ready == wanted;
}

namespace {

std::string one_text(db::PgPool& pg, const std::string& sql, const std::string& arg) {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    auto rows = tx.exec_params(sql, arg);
    return rows.empty() || rows[0][0].is_null() ? std::string() : rows[0][0].as<std::string>();
  });
  return r.is_ok() ? *r : std::string();
}

}  // namespace

std::string node_status(db::PgPool& pg, const std::string& node_name) {
  return one_text(pg, "SELECT status FROM nodes WHERE name = $1 AND status <> 'removed'", node_name);
}

std::string node_id_of(db::PgPool& pg, const std::string& node_name) {
  return one_text(pg, "SELECT id::text FROM nodes WHERE name = $1 AND status <> 'removed'", node_name);
}

int ready_nodes(db::PgPool& pg) {
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<int> {
    return tx.exec1("SELECT count(*) FROM nodes WHERE status = 'ready'")[0].as<int>();
  });
  return r.is_ok() ? *r : -1;
}

Result<std::map<std::string, int>> request_log_rows(db::PgPool& pg, const std::vector<std::string>& ids) {
  return pg.with_tx(
      [&](pqxx::work& tx) -> Result<std::map<std::string, int>> {
        std::map<std::string, int> out;
        // In chunks, as one text[] literal each.
        for (std::size_t at = 0; at < ids.size(); at += 500) {
          std::string array = "{";
          for (std::size_t i = at; i < ids.size() && i < at + 500; ++i) {
            if (i > at) array += ",";
            array += "\"" + ids[i] + "\"";  // ids are [a-z0-9-]
          }
          array += "}";
          for (const auto& row : tx.exec_params(
                   "SELECT request_id, count(*) FROM request_log WHERE request_id = ANY($1::text[])"
                   " GROUP BY request_id",
                   array))
            out[row[0].as<std::string>()] = row[1].as<int>();
        }
        return out;
      },
      db::TxOptions{.read_only = true});
}

Result<std::int64_t> usage_requests(db::PgPool& pg, const std::string& service_id) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::int64_t> {
    return tx.exec_params1("SELECT coalesce(sum(requests), 0)::bigint FROM usage_records WHERE service_id = $1",
                           service_id)[0]
        .as<std::int64_t>();
  });
}

Result<std::int64_t> metered_rows(db::PgPool& pg, const std::string& service_id) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::int64_t> {
    return tx.exec_params1(
                 "SELECT count(*) FROM request_log WHERE service_id = $1 AND attempts > 0 AND status <> 503",
                 service_id)[0]
        .as<std::int64_t>();
  });
}

std::vector<int> worker_pids(int port) {
  std::vector<int> out;
  std::error_code ec;
  const std::string want = std::string("infer") + '\0';
  const std::string port_arg = std::string("--port") + '\0' + std::to_string(port) + '\0';
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string cmd = ss.str() + '\0';
    if (cmd.find(want) != std::string::npos && cmd.find(port_arg) != std::string::npos)
      out.push_back(std::stoi(name));
  }
  return out;
}

ReplicaMonitor::ReplicaMonitor(db::PgPool& pg, std::string service_id, std::chrono::milliseconds node_ttl,
                               std::chrono::milliseconds period)
    : pg_(pg), service_id_(std::move(service_id)), ttl_(node_ttl), period_(period) {
  thread_ = std::thread([this] {
    while (!stop_) {
      sample();
      std::this_thread::sleep_for(period_);
    }
  });
}

ReplicaMonitor::~ReplicaMonitor() {
  stop_ = true;
  thread_.join();
}

std::vector<std::string> ReplicaMonitor::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::set<std::string> ReplicaMonitor::notes() const {
  std::lock_guard lock(mu_);
  return notes_;
}

void ReplicaMonitor::sample() {
  auto live = live_replicas(pg_, service_id_);
  auto input = scheduler::load_invariant_input(pg_, ttl_);
  if (!live.is_ok() || !input.is_ok()) {
    ++failed_;
    return;
  }
  ++samples_;
  if (static_cast<int>(live->size()) > max_live_) max_live_ = static_cast<int>(live->size());
  std::map<std::pair<std::string, int>, std::string> bound;
  std::lock_guard lock(mu_);
  for (const auto& r : *live) {
    if (r.port == 0) continue;
    auto [it, fresh] = bound.emplace(std::make_pair(r.node_id, r.port), r.id);
    if (!fresh && violations_.size() < 20)
      violations_.push_back("double booking: replicas " + it->second + " and " + r.id + " on node " +
                            r.node_name + " port " + std::to_string(r.port));
  }
  for (const auto& v : scheduler::check_invariants(*input)) {
    if (v.kind == "gpu_overcommit" || v.kind == "ram_overcommit") {
      if (violations_.size() < 20) violations_.push_back(v.kind + " " + v.subject + ": " + v.detail);
    } else {
      notes_.insert(v.kind);
    }
  }
}

}  // namespace scn::fault
