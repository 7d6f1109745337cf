// What the fault-injection suite reads from the pool's PostgreSQL and from
// /proc while faults happen.
//
// Contract:
//  - live_replicas() lists the service's replicas in scheduled / starting /
//    ready (with node name and port); ready_elsewhere() tells whether
//    exactly `wanted` are ready and none on `avoid_node` (a node id).
//  - ReplicaMonitor samples every `period` on its own thread (errors while
//    PostgreSQL is down are counted, not fatal): the most live replicas the
//    service had at once, two live replicas sharing one (node, port) (a
//    double booking), and the overcommit violations of the invariant
//    checker (scheduler/invariants_pg.h: gpu_overcommit, ram_overcommit);
//    other checker findings are kept as notes. reset_max() starts a new
//    window for the maximum.
//  - request_log_rows() counts the request_log rows of each given request
//    id; usage_requests() is sum(usage_records.requests) of the service;
//    metered_rows() the request_log rows a replica answered (attempts > 0,
//    status not 503) — each is metered once, so the two must be equal.
//  - worker_pids(port) are the pids of `scn infer` processes given
//    `--port <port>` (from /proc/*/cmdline).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::fault {

struct LiveReplica {
  std::string id, node_id, node_name, state;
  int port = 0;
};

Result<std::vector<LiveReplica>> live_replicas(db::PgPool& pg, const std::string& service_id);
bool ready_elsewhere(db::PgPool& pg, const std::string& service_id, int wanted, const std::string& avoid_node);
// Node status by name ("" when unknown).
std::string node_status(db::PgPool& pg, const std::string& node_name);
std::string node_id_of(db::PgPool& pg, const std::string& node_name);
int ready_nodes(db::PgPool& pg);

Result<std::map<std::string, int>> request_log_rows(db::PgPool& pg, const std::vector<std::string>& ids);
Result<std::int64_t> usage_requests(db::PgPool& pg, const std::string& service_id);
Result<std::int64_t> metered_rows(db::PgPool& pg, const std::string& service_id);

std::vector<int> worker_pids(int port);

class ReplicaMonitor {
 public:
  ReplicaMonitor(db::PgPool& pg, std::string service_id, std::chrono::milliseconds node_ttl,
                 std::chrono::milliseconds period);
  ~ReplicaMonitor();

  int max_live() const { return max_live_; }
  void reset_max() { max_live_ = 0; }
  int samples() const { return samples_; }
  int failed_samples() const { return failed_; }
  std::vector<std::string> violations() const;  // double bookings, overcommits
  std::set<std::string> notes() const;         // other checker findings (kinds)

 private:
  void sample();

  db::PgPool& pg_;
  std::string service_id_;
  std::chrono::milliseconds ttl_, period_;
  std::atomic<bool> stop_{false};
  std::atomic<int> max_live_{0}, samples_{0}, failed_{0};
  mutable std::mutex mu_;
  std::vector<std::string> violations_;
  std::set<std::string> notes_;
  std::thread thread_;
};

}  // namespace scn::fault
