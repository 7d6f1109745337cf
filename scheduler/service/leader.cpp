#include "scheduler/service/leader.h"

#include <pqxx/pqxx>

#include "common/log.h"

namespace scn::scheduler {

struct LeaderLock::Connection {
  explicit Connection(const std::string& url) : conn(url) {}
  pqxx::connection conn;
};

LeaderLock::LeaderLock(std::string pg_url, int64_t key) : url_(std::move(pg_url)), key_(key) {}

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
    if (leader_) common::log_info("scheduler: this instance is now the leader");
    return leader_;
  } catch (const std::exception& e) {
    if (leader_) common::log_warn("scheduler: leadership lost: ", e.what());
    conn_.reset();
    leader_ = false;
    return false;
  }
}

}  // namespace scn::scheduler
