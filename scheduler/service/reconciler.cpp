#include "scheduler/service/reconciler.h"

#include "common/db/pg.h"
#include "common/log.h"
#include "scheduler/framework.h"
#include "scheduler/service/binder.h"
#include "scheduler/service/pool_loader.h"
#include "scheduler/service/routes.h"

namespace scn::scheduler {
namespace {

Status set_pending_reason(db::PgPool& pool, const PendingReplica& p, const std::string& reason) {
  if (p.reason == reason) return Status::ok();
  return pool.with_tx([&](pqxx::work& tx) -> Status {
    tx.exec_params("UPDATE replicas SET reason = $2 WHERE id = $1 AND state = 'pending'",
                   p.replica_id, reason);
    return Status::ok();
  });
}

}  // namespace

void Reconciler::became_leader(std::chrono::steady_clock::time_point now) { leader_since_ = now; }

bool Reconciler::in_grace(std::chrono::steady_clock::time_point now) const {
  return !leader_since_ || now - *leader_since_ < config_.node_ttl;
}

Result<PlacementReport> Reconciler::place_pending() {
  PlacementReport report;
  SCN_ASSIGN_OR_RETURN(PoolView view, load_pool(pool_, &redis_, config_.node_ttl));
  for (const PendingReplica& p : view.pending) {
    if (!p.invalid.empty()) {
      ++report.unschedulable;
      SCN_RETURN_IF_ERROR(set_pending_reason(pool_, p, p.invalid));
      continue;
    }
    Placement placement = place(view.snapshot, p.request);
    if (!placement.scheduled()) {
      ++report.unschedulable;
      metrics_.unschedulable.inc();
      SCN_RETURN_IF_ERROR(set_pending_reason(pool_, p, placement.why()));
      continue;
    }
    const Decision& d = *placement.decision;
    Status reserved = reserve(view.snapshot, p.request, d);
    if (!reserved.is_ok()) {  // cannot happen with a fresh decision; retry next cycle
      common::log_warn("scheduler: reserve ", p.replica_id, ": ", reserved.to_string());
      continue;
    }
    BindRequest b = bind_request(view, p, d, placement.why());
    Status bound = bind_replica(pool_, b);
    if (bound.is_ok()) {
      ++report.placed;
      metrics_.placements.inc();
      ++view.node_versions[d.node_id];  // our own bump
      common::log_info("scheduler: replica ", p.replica_id, " -> node ", d.node_name, ": ",
                       b.reason);
      continue;
    }
    unreserve(view.snapshot, p.replica_id);
    if (bound.code() == Code::kConflict) {
      ++report.conflicts;
      metrics_.conflicts.inc();
      common::log_info("scheduler: bind conflict, retrying next cycle: ", bound.message());
      continue;
    }
    return bound;
  }
  return report;
}

CycleReport Reconciler::run_cycle() {
  CycleReport r;
  metrics_.cycles.inc();
  auto failed = [&](const char* step, const Status& st) {
    ++r.failed_steps;
    common::log_warn("scheduler: ", step, ": ", st.to_string());
  };
  if (!in_grace()) {
    r.loss_checked = true;
    auto lost = mark_lost_nodes(pool_, redis_, config_.node_ttl);
    if (lost.is_ok()) {
      r.lost_nodes = static_cast<int>(lost->size());
      metrics_.lost_nodes.inc(r.lost_nodes);
    } else {
      failed("lost nodes", lost.status());
    }
  }
  auto counts = reconcile_replica_counts(pool_);
  if (counts.is_ok()) r.counts = *counts; else failed("replica counts", counts.status());
  auto placed = place_pending();
  if (placed.is_ok()) r.placement = *placed; else failed("placement", placed.status());
  auto statuses = update_service_statuses(pool_);
  if (statuses.is_ok()) r.services_changed = *statuses; else failed("service status", statuses.status());
  auto routes = routes_.refresh_all();
  if (routes.is_ok()) {
    r.route_changes = *routes;
    metrics_.route_changes.inc(*routes);
  } else {
    failed("routes", routes.status());
  }
  if (r.failed_steps > 0) metrics_.cycle_errors.inc();
  return r;
}

}  // namespace scn::scheduler
