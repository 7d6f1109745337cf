#include "scheduler/service/lifecycle.h"

#include <algorithm>
#include <map>

#include "common/db/pg.h"
#include "common/log.h"
#include "common/redis/redis.h"
#include "scheduler/service/fencing.h"
#include "scheduler/service/service_context.h"

namespace scn::scheduler {
namespace {

constexpr const char* kLiveBound = "('scheduled', 'starting', 'ready', 'failed', 'stopping')";

int retire_rank(const std::string& state) {
  if (state == "pending") return 0;
  if (state == "failed") return 1;
  if (state == "scheduled") return 2;
  if (state == "starting") return 3;
  return 4;  // ready
}

}  // namespace

Result<std::vector<std::string>> mark_lost_nodes(db::PgPool& pool, redis::RedisClient& redis,
                                                 std::chrono::milliseconds node_ttl,
                                                 int64_t epoch) {
  const std::string ttl_ms = std::to_string(node_ttl.count());
  const std::string stale =
      "(last_heartbeat_at IS NULL OR last_heartbeat_at < now() - $1::bigint * interval '1 millisecond')";
  auto candidates = pool.with_tx(
      [&](pqxx::work& tx) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        for (const auto& row : tx.exec_params(
                 "SELECT id FROM nodes WHERE status IN ('ready', 'draining') AND " + stale, ttl_ms))
          out.push_back(row[0].as<std::string>());
        return out;
      },
      db::TxOptions{db::Isolation::kReadCommitted, /*read_only=*/true});
  if (!candidates.is_ok()) return candidates.status();
  std::vector<std::string> lost;
  if (candidates->empty()) return lost;

  std::vector<std::string> args{"MGET"};
  for (const auto& id : *candidates) args.push_back(node_alive_key(id));
  auto reply = redis.command(args);
  if (!reply.is_ok()) return reply.status().with_context("liveness keys");
  if (!reply->is_array() || reply->elements.size() != candidates->size())
    return Status::internal("unexpected MGET reply " + reply->debug_string());

  for (size_t i = 0; i < candidates->size(); ++i) {
    if (!reply->elements[i].is_nil()) continue;  // Redis says alive
    const std::string& id = (*candidates)[i];
    auto marked = pool.with_tx([&](pqxx::work& tx) -> Result<bool> {
      SCN_RETURN_IF_ERROR(check_epoch(tx, epoch));
      pqxx::result n = tx.exec_params(
          "UPDATE nodes SET status = 'lost', version = version + 1, status_reason = 'no heartbeat since ' || "
          "COALESCE(to_char(last_heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'registration') "
          "WHERE id = $2 AND status IN ('ready', 'draining') AND " + stale,
          ttl_ms, id);
      if (n.affected_rows() == 0) return false;  // a heartbeat came in meanwhile
      tx.exec_params(
          std::string("UPDATE replicas SET state = 'lost', stopped_at = now(), reason = 'node lost', "
                      "version = version + 1 WHERE node_id = $1 AND state IN ") + kLiveBound,
          id);
      return true;
    });
    if (!marked.is_ok()) return marked.status();
    if (*marked) {
      common::log_warn("scheduler: node ", id, " is lost (no heartbeat for ", node_ttl.count(), " ms)");
      lost.push_back(id);
    }
  }
  return lost;
}

Result<CountChanges> reconcile_replica_counts(db::PgPool& pool, int64_t epoch) {
  return pool.with_tx([&](pqxx::work& tx) -> Result<CountChanges> {
    SCN_RETURN_IF_ERROR(check_epoch(tx, epoch));
    CountChanges c;
    c.replicas_lost = static_cast<int>(
        tx.exec(std::string("UPDATE replicas r SET state = 'lost', stopped_at = now(), "
                            "reason = 'node ' || n.status, version = r.version + 1 FROM nodes n "
                            "WHERE n.id = r.node_id AND n.status IN ('removed', 'lost') AND r.state IN ") +
                kLiveBound)
            .affected_rows());

    // Replicas on draining nodes are 'migrating' (make-before-break).
    c.migrating_marked = static_cast<int>(
        tx.exec("UPDATE replicas r SET reason = 'migrating: node draining' FROM nodes n "
                "WHERE n.id = r.node_id AND n.status = 'draining' "
                "AND r.state IN ('scheduled', 'starting', 'ready', 'failed') "
                "AND r.reason IS DISTINCT FROM 'migrating: node draining'")
            .affected_rows());

    struct Live {
      std::string id;
      std::string state;
    };
    struct Svc {
      int wanted = 0;
      std::string why;  // the reason text for retired replicas
      std::vector<Live> live;       // newest first, not on draining nodes
      std::vector<Live> migrating;  // on draining nodes, oldest first
    };
    std::map<std::string, Svc> services;
    for (const auto& row : tx.exec(
             "SELECT id, replicas_wanted, status, deleted_at IS NOT NULL FROM services "
             "WHERE deleted_at IS NULL OR EXISTS (SELECT 1 FROM replicas r WHERE r.service_id = services.id "
             "AND r.state IN ('pending', 'scheduled', 'starting', 'ready', 'failed'))")) {
      Svc& s = services[row[0].as<std::string>()];
      const bool deleted = row[3].as<bool>();
      const bool stopped = row[2].as<std::string>() == "stopped";
      s.wanted = deleted || stopped ? 0 : row[1].as<int>();
      s.why = deleted ? "service deleted" : stopped ? "service stopped" : "scaled down";
    }
    for (const auto& row : tx.exec(
             "SELECT r.service_id, r.id, r.state, n.status IS NOT DISTINCT FROM 'draining' "
             "FROM replicas r LEFT JOIN nodes n ON n.id = r.node_id WHERE r.state IN "
             "('pending', 'scheduled', 'starting', 'ready', 'failed') ORDER BY r.created_at DESC, r.id DESC")) {
      auto it = services.find(row[0].as<std::string>());
      if (it == services.end()) continue;
      Live l{row[1].as<std::string>(), row[2].as<std::string>()};
      if (row[3].as<bool>())
        it->second.migrating.insert(it->second.migrating.begin(), std::move(l));
      else
        it->second.live.push_back(std::move(l));
    }
    auto stop = [&](const Live& r, const std::string& why) {
      return static_cast<int>(tx.exec_params("UPDATE replicas SET state = 'stopping', reason = $3, "
                                             "version = version + 1 WHERE id = $1 AND state = $2",
                                             r.id, r.state, why)
                                  .affected_rows());
    };
    for (auto& [id, s] : services) {
      const int live = static_cast<int>(s.live.size());
      int ready_elsewhere = 0;
      for (const Live& l : s.live) ready_elsewhere += l.state == "ready";
      // Migrating replicas: one that serves nothing stops at once; a ready one
      // stops only while the ready replicas left still cover `wanted`.
      int migrating_ready = 0;
      for (const Live& m : s.migrating) migrating_ready += m.state == "ready";
      int may_stop = std::max(0, ready_elsewhere + migrating_ready - s.wanted);
      for (const Live& m : s.migrating) {
        if (m.state != "ready") {
          c.migrated += stop(m, s.wanted == 0 ? s.why : "node draining");
        } else if (may_stop > 0) {
          --may_stop;
          c.migrated += stop(m, s.wanted == 0 ? s.why : "moved off a draining node");
        }
      }
      if (live < s.wanted) {
        tx.exec_params(
            "INSERT INTO replicas (service_id) SELECT $1 FROM generate_series(1, $2)", id,
            s.wanted - live);
        c.created += s.wanted - live;
        continue;
      }
      if (live == s.wanted) continue;
      std::stable_sort(s.live.begin(), s.live.end(), [](const Live& a, const Live& b) {
        return retire_rank(a.state) < retire_rank(b.state);
      });
      for (int i = 0; i < live - s.wanted; ++i) {
        const Live& r = s.live[i];
        if (r.state == "pending") {
          c.deleted_pending += static_cast<int>(
              tx.exec_params("DELETE FROM replicas WHERE id = $1 AND state = 'pending'", r.id)
                  .affected_rows());
        } else {
          c.stopping += stop(r, s.why);
        }
      }
    }
    return c;
  });
}

Result<int> update_service_statuses(db::PgPool& pool, int64_t epoch) {
  return pool.with_tx([&](pqxx::work& tx) -> Result<int> {
    SCN_RETURN_IF_ERROR(check_epoch(tx, epoch));
    int changed = 0;
    pqxx::result rows = tx.exec(
        "SELECT s.id, s.status, s.status_reason, s.replicas_wanted, "
        "count(*) FILTER (WHERE r.state = 'ready'), "
        "count(*) FILTER (WHERE r.state IN ('scheduled', 'starting')), "
        "count(*) FILTER (WHERE r.state = 'failed'), "
        "count(*) FILTER (WHERE r.state IN ('pending', 'scheduled', 'starting', 'ready', 'failed')), "
        "min(r.reason) FILTER (WHERE r.state = 'pending'), "
        "min(r.reason) FILTER (WHERE r.state = 'failed'), "
        "count(*) FILTER (WHERE r.state = 'pending') "
        "FROM services s LEFT JOIN replicas r ON r.service_id = s.id "
        "WHERE s.deleted_at IS NULL AND s.status NOT IN ('stopped', 'deleted') GROUP BY s.id");
    for (const auto& row : rows) {
      const std::string id = row[0].as<std::string>();
      const std::string old_status = row[1].as<std::string>();
      const std::optional<std::string> old_reason =
          row[2].is_null() ? std::nullopt : std::optional<std::string>(row[2].as<std::string>());
      const int64_t wanted = row[3].as<int64_t>();
      const int64_t ready = row[4].as<int64_t>();
      const int64_t starting = row[5].as<int64_t>();
      const int64_t failed = row[6].as<int64_t>();
      const int64_t live = row[7].as<int64_t>();
      const int64_t pending = row[10].as<int64_t>();
      const std::string why_pending = row[8].is_null() ? "" : row[8].as<std::string>();
      const std::string why_failed = row[9].is_null() ? "" : row[9].as<std::string>();
      std::string status;
      std::optional<std::string> reason;
      if (wanted > 0 && ready >= wanted) {
        status = "ready";
      } else if (ready > 0) {
        status = "degraded";
        reason = std::to_string(ready) + " of " + std::to_string(wanted) + " replicas ready";
        if (!why_pending.empty()) *reason += "; pending: " + why_pending;
      } else if (starting > 0) {
        status = "starting";
        reason = std::to_string(starting) + " of " + std::to_string(wanted) + " replicas starting";
      } else if (live > 0 && failed == live) {
        status = "failed";
        reason = why_failed.empty() ? "every replica failed" : why_failed;
      } else {
        status = "pending";
        if (wanted == 0)
          reason = "0 replicas wanted";
        else if (!why_pending.empty())
          reason = why_pending;
        else if (pending > 0)
          reason = "waiting for placement";
      }
      if (status == old_status && reason == old_reason) continue;
      tx.exec_params("UPDATE services SET status = $2, status_reason = $3 WHERE id = $1 AND status = $4",
                     id, status, reason ? reason->c_str() : nullptr, old_status);
      ++changed;
    }
    return changed;
  });
}

}  // namespace scn::scheduler
