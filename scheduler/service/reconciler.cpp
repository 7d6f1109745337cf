#include "scheduler/service/reconciler.h"

#include <unistd.h>

#include <map>

#include "common/db/pg.h"
#include "common/log.h"
#include "scheduler/framework.h"
#include "scheduler/service/binder.h"
#include "scheduler/service/fencing.h"
#include "scheduler/service/pool_loader.h"
#include "scheduler/service/quotas.h"
#include "scheduler/service/routes.h"

namespace scn::scheduler {
namespace {

Status set_pending_reason(db::PgPool& pool, const PendingReplica& p, const std::string& reason,
                          int64_t epoch) {
  if (p.reason == reason) return Status::ok();
  return pool.with_tx([&](pqxx::work& tx) -> Status {
    SCN_RETURN_IF_ERROR(check_epoch(tx, epoch));
    tx.exec_params("UPDATE replicas SET reason = $2 WHERE id = $1 AND state = 'pending'",
                   p.replica_id, reason);
    return Status::ok();
  });
}

// Marks `victims` stopping (fenced); returns how many were still live.
Result<int> preempt(db::PgPool& pool, const std::vector<std::string>& victims, const std::string& why,
                    int64_t epoch) {
  return pool.with_tx([&](pqxx::work& tx) -> Result<int> {
    SCN_RETURN_IF_ERROR(check_epoch(tx, epoch));
    int n = 0;
    for (const std::string& id : victims)
      n += static_cast<int>(
          tx.exec_params("UPDATE replicas SET state = 'stopping', reason = $2, version = version + 1 "
                         "WHERE id = $1 AND state IN ('scheduled', 'starting', 'ready', 'failed')",
                         id, why)
              .affected_rows());
    return n;
  });
}

// Would `request` fit on `node` once `freed` are gone (a one-node snapshot).
bool fits_after(const Snapshot& snapshot, const ReplicaRequest& request, const Node& node,
                const std::vector<const RunningReplica*>& freed) {
  Snapshot one;
  if (node.center >= snapshot.centers().size()) return false;
  if (!one.add_center(snapshot.centers()[node.center]).is_ok()) return false;
  if (!one.add_node(node_with_freed(node, freed)).is_ok()) return false;
  return place(one, request).scheduled();
}

}  // namespace

Status Reconciler::became_leader(std::chrono::steady_clock::time_point now) {
  epoch_ = -1;
  auto epoch = advance_epoch(pool_, "pid " + std::to_string(::getpid()));
  if (!epoch.is_ok()) return epoch.status();
  epoch_ = *epoch;
  leader_since_ = now;
  common::log_info("scheduler: leading with fencing epoch ", epoch_);
  return Status::ok();
}

bool Reconciler::in_grace(std::chrono::steady_clock::time_point now) const {
  return !leader_since_ || now - *leader_since_ < config_.node_ttl;
}

Result<PlacementReport> Reconciler::place_pending() {
  PlacementReport report;
  SCN_ASSIGN_OR_RETURN(PoolView view, load_pool(pool_, &redis_, config_.node_ttl));
  for (const PendingReplica& p : view.pending) {
    if (!p.invalid.empty()) {
      ++report.unschedulable;
      SCN_RETURN_IF_ERROR(set_pending_reason(pool_, p, p.invalid, epoch_));
      continue;
    }
    Placement placement = place(view.snapshot, p.request);
    const std::string& tenant = p.request.tenant_id;
    auto quota = view.quotas.find(tenant);
    if (!placement.scheduled()) {
      ++report.unschedulable;
      metrics_.unschedulable.inc();
      std::string why = placement.why();
      const bool quota_allows =
          quota == view.quotas.end() ||
          quota_violation(quota->second, view.usage[tenant], Assignment{}).empty();
      if (quota_allows) {
        std::map<std::string, bool> protect;
        for (const auto& [t, q] : view.quotas) protect[t] = under_guaranteed_share(q, view.usage[t]);
        auto plan = plan_preemption(
            view.snapshot, p.priority, view.running, protect,
            [&](const Node& node, const std::vector<const RunningReplica*>& freed) {
              return fits_after(view.snapshot, p.request, node, freed);
            });
        if (plan && plan->victims.empty()) {
          why = "waiting for preempted replicas to stop on node " + plan->node_id;
        } else if (plan) {
          SCN_ASSIGN_OR_RETURN(int n, preempt(pool_, plan->victims,
                                              "preempted by service " + p.request.service_id +
                                                  " (priority " + std::to_string(p.priority) + ")",
                                              epoch_));
          report.preempted += n;
          for (RunningReplica& r : view.running)
            for (const std::string& v : plan->victims)
              if (r.replica_id == v) r.preempted = true;
          common::log_info("scheduler: replica ", p.replica_id, " preempts ", n, " replica(s) on node ",
                           plan->node_id);
          why = "waiting for " + std::to_string(n) + " preempted replica(s) to stop on node " + plan->node_id;
        }
      }
      SCN_RETURN_IF_ERROR(set_pending_reason(pool_, p, why, epoch_));
      continue;
    }
    const Decision& d = *placement.decision;
    if (quota != view.quotas.end()) {
      std::string over = quota_violation(quota->second, view.usage[tenant], d.assignment);
      if (!over.empty()) {
        ++report.over_quota;
        SCN_RETURN_IF_ERROR(set_pending_reason(pool_, p, over, epoch_));
        continue;
      }
    }
    Status reserved = reserve(view.snapshot, p.request, d);
    if (!reserved.is_ok()) {  // cannot happen with a fresh decision; retry next cycle
      common::log_warn("scheduler: reserve ", p.replica_id, ": ", reserved.to_string());
      continue;
    }
    BindRequest b = bind_request(view, p, d, placement.why());
    b.epoch = epoch_;
    Status bound = bind_replica(pool_, b);
    if (bound.is_ok()) {
      ++report.placed;
      metrics_.placements.inc();
      add_usage(view.usage[tenant], d.assignment);
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
    if (is_fenced(st)) r.fenced = true;
    common::log_warn("scheduler: ", step, ": ", st.to_string());
  };
  auto done = [&] {
    if (r.failed_steps > 0) metrics_.cycle_errors.inc();
    return r;
  };
  if (!in_grace()) {
    r.loss_checked = true;
    auto lost = mark_lost_nodes(pool_, redis_, config_.node_ttl, epoch_);
    if (lost.is_ok()) {
      r.lost_nodes = static_cast<int>(lost->size());
      metrics_.lost_nodes.inc(r.lost_nodes);
    } else {
      failed("lost nodes", lost.status());
    }
  }
  if (r.fenced) return done();
  auto scaled = autoscaler_.run(epoch_);
  if (scaled.is_ok()) r.autoscaled = *scaled; else failed("autoscale", scaled.status());
  if (r.fenced) return done();
  auto counts = reconcile_replica_counts(pool_, epoch_);
  if (counts.is_ok()) r.counts = *counts; else failed("replica counts", counts.status());
  if (r.fenced) return done();
  auto placed = place_pending();
  if (placed.is_ok()) r.placement = *placed; else failed("placement", placed.status());
  if (r.fenced) return done();
  auto statuses = update_service_statuses(pool_, epoch_);
  if (statuses.is_ok()) r.services_changed = *statuses; else failed("service status", statuses.status());
  if (r.fenced) return done();
  auto routes = routes_.refresh_all();
  if (routes.is_ok()) {
    r.route_changes = *routes;
    metrics_.route_changes.inc(*routes);
  } else {
    failed("routes", routes.status());
  }
  return done();
}

}  // namespace scn::scheduler
