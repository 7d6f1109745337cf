// A whole platform for the end-to-end tests, every part a real process or
// server: a scratch database on SCN_PG_URL (migrated, demo catalog
// imported), an own redis-server on a free port (so that a test may flush
// it), `scn scheduler`, `scn broker` and any number of `scn agent`s, with
// their logs in a temporary folder (logs() quotes their tails for failure
// messages). Include from tests only (it uses doctest).
//
// Contract:
//  - Platform::start() answers nullptr when the test is to be skipped
//    (SCN_PG_URL unset outside CI); a part that fails to start fails the
//    test with its log. PlatformOptions add flags to the scheduler's and the
//    broker's command lines (after the harness's own).
//  - add_agent() starts an agent with its own state folder; restart_*()
//    stop (SIGTERM) and start the process again with the same arguments.
//  - The destructor stops agents, broker, scheduler, Redis, then drops the
//    database.
#pragma once

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/up/api_session.h"
#include "broker/up/local_services.h"
#include "broker/up/scn_process.h"
#include "common/db/pg.h"
#include "common/db/scratch_db.h"
#include "tests/testing.h"

namespace scn::e2e {

using broker::ApiAnswer;
using broker::ApiSession;
using broker::ScnProcess;

inline constexpr int kHeartbeatMs = 2000;
inline constexpr int kNodeTtlMs = 6000;

struct PlatformOptions {
  std::vector<std::string> scheduler_args;  // e.g. {"--autoscale-up-window-ms", "1000"}
  std::vector<std::string> broker_args;     // e.g. {"--cold-start-hold-ms", "60000"}
};

class Platform {
 public:
  static std::unique_ptr<Platform> start(const PlatformOptions& options = {});
  ~Platform();

  db::PgPool& pg() { return *pool_; }
  const std::string& pg_url() const { return db_->url(); }
  std::string redis_url() const { return redis_->url(); }
  std::string broker_url() const { return "http://127.0.0.1:" + std::to_string(broker_port_); }
  std::string scheduler_url() const { return "http://127.0.0.1:" + std::to_string(scheduler_port_); }
  int broker_port() const { return broker_port_; }

  ScnProcess& scheduler() { return *scheduler_; }
  ScnProcess& broker() { return *broker_; }
  ScnProcess& add_agent(const std::string& name, const std::string& join_token, const std::string& simulate);
  ScnProcess* agent(const std::string& name);
  Status restart_scheduler();
  Status restart_broker();

  // The last lines of every process's log, for failure messages.
  std::string logs(int lines = 25) const;
  const std::filesystem::path& dir() const { return tmp_.path(); }

 private:
  Platform() = default;
  scn::testing::TempDir tmp_;
  std::optional<db::ScratchDatabase> db_;
  std::unique_ptr<db::PgPool> pool_;
  std::unique_ptr<broker::LocalRedis> redis_;
  int scheduler_port_ = 0, broker_port_ = 0;
  std::unique_ptr<ScnProcess> scheduler_, broker_;
  std::vector<std::unique_ptr<ScnProcess>> agents_;
};

// Polls `done` every 200 ms until it is true (true) or `timeout` passes (false).
bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& done);

// The rows of {"data": [...]} (empty when the body has none).
std::vector<boost::json::object> rows(const ApiAnswer& a);
// A field of an object as text / integer ("" / 0 when absent or of another type).
std::string field(const boost::json::object& o, std::string_view key);
std::int64_t int_field(const boost::json::object& o, std::string_view key);

// One SQL query answering one integer (e.g. SELECT count(*) ...).
std::int64_t sql_count(db::PgPool& pg, const std::string& query);

}  // namespace scn::e2e
