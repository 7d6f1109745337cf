#include "scheduler/service/leader.h"

#include <pqxx/pqxx>

#include "common/log.h"

namespace scn::scheduler {

struct LeaderLock::Connection {
  explicit Connection(const std::string& url) : conn(url) {}
  pqxx::connection conn;
};

LeaderLock::LeaderLock(std::string pg_url, int64_t key, std::chrono::milliseconds stale_after)
    : url_(std::move(pg_url)), key_(key), stale_after_(stale_after) {}

LeaderLock::~LeaderLock() { release(); }

void LeaderLock::release() {
  if (conn_) {
    try {
      conn_->conn.disconnect();
    } catch (const std::exception&) {
    }
    conn_.reset();
  }
  if (leader_) common::log_info("scheduler: leadership released");
  leader_ = false;
}

bool LeaderLock::poll() {
  try {
    if (!conn_) conn_ = std::make_unique<Connection>(url_);
    pqxx::nontransaction tx(conn_->conn);
    if (leader_) {
      tx.exec("SELECT 1");
      return true;
    }
    leader_ = tx.exec_params1("SELECT pg_try_advisory_lock($1)", key_)[0].as<bool>();
    if (!leader_ && depose_stale_holder(tx)) {
      leader_ = tx.exec_params1("SELECT pg_try_advisory_lock($1)", key_)[0].as<bool>();
    }
    if (leader_) common::log_info("scheduler: this instance is now the leader");
    return leader_;
  } catch (const std::exception& e) {
    if (leader_) common::log_warn("scheduler: leadership lost: ", e.what());
    conn_.reset();
    leader_ = false;
    return false;
  }
}

// A bigint advisory key shows in pg_locks as classid = high 32 bits, objid =
// low 32 bits, objsubid = 1, in the database it was taken in (advisory locks
// are per database: schedulers of other databases on the same server hold
// the same key and are not ours to judge). The holder's session is stale when it is idle
// (no statement running, none in a transaction) since longer than
// stale_after_; pg_terminate_backend(pid, 2000) waits up to 2 s for the
// session to end, which releases its locks.
bool LeaderLock::depose_stale_holder(pqxx::nontransaction& tx) {
  const auto key = static_cast<uint64_t>(key_);
  const auto rows = tx.exec_params(
      "SELECT a.pid, EXTRACT(EPOCH FROM now() - a.state_change) * 1000 "
      "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
      "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid "
      "AND a.state = 'idle' AND a.pid <> pg_backend_pid()",
      static_cast<int64_t>(key >> 32), static_cast<int64_t>(key & 0xffffffffu));
  if (rows.empty()) return false;
  const int pid = rows[0][0].as<int>();
  const double idle_ms = rows[0][1].as<double>();
  if (idle_ms <= static_cast<double>(stale_after_.count())) return false;
  common::log_warn("scheduler: the leader's lock session (backend ", pid, ") has been idle for ",
                   static_cast<int64_t>(idle_ms), " ms, longer than ", stale_after_.count(),
                   " ms: the leader is frozen; ending its session to take over");
  return tx.exec_params1("SELECT pg_terminate_backend($1, 2000)", pid)[0].as<bool>();
}

}  // namespace scn::scheduler
