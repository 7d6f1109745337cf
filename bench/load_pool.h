// LoadPool: a whole private pool on this machine for the fault-injection
// suite (tests/fault/) and `scn bench load`: its own PostgreSQL and Redis
// (started in a folder on free ports, never the shared servers), S
// `scn scheduler`s, B `scn broker`s and A `scn agent`s (simulated GPU nodes
// running real CPU `scn infer` workers), a tenant with an API key and one
// service of stories260k, ready.
//
// Contract:
//  - start(options) creates everything under options.dir (logs in dir/logs)
//    and waits until the service has `replicas` ready replicas; any failure
//    is a Status quoting the logs of the part that failed.
//  - Scheduler 0 is started first and waited for until it leads; the others
//    stand by. Every agent talks to the LAST scheduler (a standby at
//    start), so that killing the leader leaves the agents' API up (agents
//    know one scheduler URL).
//  - restart_postgres()/restart_redis() stop the server and start it again
//    on the same port (Redis comes back empty: no persistence); `down_ms`
//    is how long it stays down. restart(ScnProcess&) stops (SIGTERM) and
//    starts a process with the same arguments, waiting for its port when it
//    listens.
//  - leader() asks each scheduler's /health and answers the index of the
//    one that leads (-1: none).
//  - The destructor stops agents, brokers, schedulers, Redis, PostgreSQL.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::db {
class PgPool;
}
namespace scn::broker {
class LocalPostgres;
class LocalRedis;
class ScnProcess;
}  // namespace scn::broker

namespace scn::bench {

struct LoadPoolOptions {
  std::filesystem::path dir;        // where data and logs go (must exist)
  std::string binary;               // the scn binary
  std::filesystem::path shared_dir; // ../shared (models, golden)
  int schedulers = 2;
  int brokers = 2;
  int agents = 3;
  int replicas = 2;
  int heartbeat_ms = 2000;
  int node_ttl_ms = 6000;
  int usage_flush_ms = 1000;
  int broker_workers = 0;           // --workers of each broker (0: its default)
  std::vector<std::string> broker_args;  // added to every broker's command line
  std::chrono::seconds ready_timeout{120};
};

class LoadPool {
 public:
  static Result<std::unique_ptr<LoadPool>> start(const LoadPoolOptions& options);
  ~LoadPool();
  LoadPool(const LoadPool&) = delete;
  LoadPool& operator=(const LoadPool&) = delete;

  db::PgPool& pg() { return *pg_; }
  std::string pg_url() const;
  std::string redis_url() const;
  int redis_port() const { return redis_port_; }

  std::string broker_url(int i) const;
  std::string scheduler_url(int i) const;
  broker::ScnProcess& broker(int i) { return *brokers_.at(i); }
  broker::ScnProcess& scheduler(int i) { return *schedulers_.at(i); }
  broker::ScnProcess& agent(int i) { return *agents_.at(i); }
  int brokers() const { return static_cast<int>(brokers_.size()); }
  int schedulers() const { return static_cast<int>(schedulers_.size()); }
  int agents() const { return static_cast<int>(agents_.size()); }
  // The agent's --name ("agent-<i>"), the index of a name (-1: none).
  std::string agent_name(int i) const { return "agent-" + std::to_string(i); }
  int agent_index(const std::string& name) const;

  const std::string& api_key() const { return api_key_; }
  const std::string& tenant_id() const { return tenant_id_; }
  const std::string& service_id() const { return service_id_; }
  const std::string& service_name() const { return service_name_; }
  int replicas() const { return options_.replicas; }
  const LoadPoolOptions& options() const { return options_; }

  int leader();
  Status restart(broker::ScnProcess& p);
  Status restart_postgres(std::chrono::milliseconds down);
  Status restart_redis(std::chrono::milliseconds down);

  // The last lines of every process's log.
  std::string logs(int lines = 20) const;

 private:
  LoadPool() = default;
  Status start_all();
  Status wait_listening_of(broker::ScnProcess& p);

  LoadPoolOptions options_;
  std::unique_ptr<broker::LocalPostgres> postgres_;
  std::unique_ptr<broker::LocalRedis> redis_;
  int pg_port_ = 0, redis_port_ = 0;
  std::unique_ptr<db::PgPool> pg_;
  std::vector<int> scheduler_ports_, broker_ports_;
  std::vector<std::unique_ptr<broker::ScnProcess>> schedulers_, brokers_, agents_;
  std::string api_key_, tenant_id_, service_id_, service_name_ = "stories";
};

}  // namespace scn::bench
