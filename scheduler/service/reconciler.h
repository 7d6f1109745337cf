// The leader's reconcile cycle: liveness, replica counts, placement and
// binding, service status, routes.
//
// Contract:
//  - run_cycle() runs, in order: (a) mark_lost_nodes() — skipped until one
//    node TTL has passed since became_leader(), so a restarted scheduler
//    never declares lost the nodes that kept running while it was away;
//    (b) reconcile_replica_counts(); (c) place_pending(); (d)
//    update_service_statuses(); (e) RouteWriter::refresh_all(). A failing
//    step is logged and counted; the later steps still run (each is
//    level-triggered and repeats next cycle). The report says what changed.
//  - place_pending(): loads the pool (pool_loader.h), then for each pending
//    replica, oldest first: Framework::place() with the default profile; a
//    placed replica is reserved in the snapshot and bound (binder.h) with
//    its "why here"; a bind conflict unreserves it and leaves it pending for
//    the next cycle (counted in `conflicts`); an unschedulable one gets its
//    "why pending" in replicas.reason (written only when it changed).
//  - Not thread-safe: one thread runs the cycles.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"
#include "scheduler/service/lifecycle.h"
#include "scheduler/service/service_context.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::scheduler {

class RouteWriter;

struct PlacementReport {
  int placed = 0;
  int conflicts = 0;
  int unschedulable = 0;
};

struct CycleReport {
  bool loss_checked = false;  // false during the start-up grace
  int lost_nodes = 0;
  CountChanges counts;
  PlacementReport placement;
  int services_changed = 0;
  int route_changes = 0;
  int failed_steps = 0;
};

class Reconciler {
 public:
  Reconciler(db::PgPool& pool, redis::RedisClient& redis, RouteWriter& routes,
             SchedulerConfig config, SchedulerMetrics& metrics)
      : pool_(pool), redis_(redis), routes_(routes), config_(config), metrics_(metrics) {}

  // Starts the start-up grace (one node TTL from `now`).
  void became_leader(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  bool in_grace(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) const;

  CycleReport run_cycle();
  Result<PlacementReport> place_pending();

 private:
  db::PgPool& pool_;
  redis::RedisClient& redis_;
  RouteWriter& routes_;
  SchedulerConfig config_;
  SchedulerMetrics& metrics_;
  std::optional<std::chrono::steady_clock::time_point> leader_since_;
};

}  // namespace scn::scheduler
