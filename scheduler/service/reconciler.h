// The leader's reconcile cycle: liveness, replica counts, placement and
// binding, service status, routes.
//
// Contract:
//  - run_cycle() runs, in order: (a) mark_lost_nodes() — skipped until one
//    node TTL has passed since became_leader(), so a restarted scheduler
//    never declares lost the nodes that kept running while it was away;
//    (a2) Autoscaler::run() (autoscaler.h); (b) reconcile_replica_counts(); (c) place_pending(); (d)
//    update_service_statuses(); (e) RouteWriter::refresh_all(). A failing
//    step is logged and counted; the later steps still run (each is
//    level-triggered and repeats next cycle). The report says what changed.
//  - place_pending(): loads the pool (pool_loader.h), then for each pending
//    replica, oldest first: Framework::place() with the default profile; a
//    placed replica is reserved in the snapshot and bound (binder.h) with
//    its "why here"; a bind conflict unreserves it and leaves it pending for
//    the next cycle (counted in `conflicts`); an unschedulable one gets its
//    "why pending" in replicas.reason (written only when it changed).
//  - Sharing (quotas.h): pending replicas go highest priority first; a
//    placed replica whose assignment would take its tenant over a quota is
//    not bound and stays pending with reason "quota: ...". A replica that
//    cannot be placed may preempt (plan_preemption()): the victims become
//    'stopping' with reason "preempted by service <id> (priority P)" - the
//    count step then creates a pending replacement for their services, so
//    they go back to pending - and the preemptor is placed once they have
//    stopped (its reason says it waits for that). Tenants at or under
//    their guaranteed share are never preempted.
//  - Not thread-safe: one thread runs the cycles.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"
#include "scheduler/service/autoscaler.h"
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
  int over_quota = 0;  // placeable, but over the tenant's quota (reason "quota: ...")
  int preempted = 0;   // lower-priority replicas marked stopping to make room
};

struct CycleReport {
  bool loss_checked = false;  // false during the start-up grace
  int autoscaled = 0;         // services whose replicas_wanted the autoscaler changed
  int lost_nodes = 0;
  CountChanges counts;
  PlacementReport placement;
  int services_changed = 0;
  int route_changes = 0;
  int failed_steps = 0;
  bool fenced = false;  // a step was refused: this instance is no longer leader
};

class Reconciler {
 public:
  Reconciler(db::PgPool& pool, redis::RedisClient& redis, RouteWriter& routes,
             SchedulerConfig config, SchedulerMetrics& metrics)
      : pool_(pool),
        redis_(redis),
        routes_(routes),
        config_(config),
        metrics_(metrics),
        autoscaler_(pool, redis, AutoscaleWindows{config.scale_up_window, config.scale_down_window}) {}

  // Takes a new fencing epoch (advance_epoch(), fencing.h) and starts the
  // start-up grace (one node TTL from `now`). Call right after taking the
  // advisory lock; an error leaves the reconciler without an epoch (its
  // cycles are then refused).
  Status became_leader(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  int64_t epoch() const { return epoch_; }
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
  Autoscaler autoscaler_;
  int64_t epoch_ = -1;  // -1: never led (every fenced write is refused)
};

}  // namespace scn::scheduler
