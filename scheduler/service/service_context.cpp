#include "scheduler/service/service_context.h"

namespace scn::scheduler {

SchedulerMetrics::SchedulerMetrics(metrics::Registry& r)
    : registrations(r.counter("scn_scheduler_registrations_total", "Nodes registered")),
      heartbeats(r.counter("scn_scheduler_heartbeats_total", "Heartbeats accepted")),
      placements(r.counter("scn_scheduler_placements_total", "Replicas bound to a node")),
      conflicts(r.counter("scn_scheduler_bind_conflicts_total",
                          "Binds lost to a concurrent writer (optimistic concurrency)")),
      unschedulable(r.counter("scn_scheduler_unschedulable_total",
                              "Placement attempts that found no node")),
      lost_nodes(r.counter("scn_scheduler_lost_nodes_total", "Nodes declared lost")),
      cycles(r.counter("scn_scheduler_cycles_total", "Reconcile cycles run")),
      cycle_errors(r.counter("scn_scheduler_cycle_errors_total", "Reconcile cycles that failed")),
      route_changes(r.counter("scn_scheduler_route_changes_total", "Route documents that changed")),
      leader(r.gauge("scn_scheduler_leader", "1 while this instance runs the reconcile loop")) {}

std::string node_alive_key(std::string_view node_id) {
  return "scn:node:" + std::string(node_id) + ":alive";
}
std::string node_status_key(std::string_view node_id) {
  return "scn:node:" + std::string(node_id) + ":status";
}
std::string routes_key(std::string_view service_id) {
  return "scn:routes:" + std::string(service_id);
}

}  // namespace scn::scheduler
