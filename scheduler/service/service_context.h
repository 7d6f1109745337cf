// What every part of the scheduler process shares: its timing settings, its
// metrics, and the names of the Redis keys and channels of the platform
// contract (docs/API.md, "Redis keys").
//
// Contract:
//  - SchedulerConfig holds the process's timings; the defaults are the
//    documented flag defaults of `scn scheduler`.
//  - SchedulerMetrics registers its series in the given registry once
//    (the process uses metrics::default_registry(); tests their own).
//  - The key functions build the exact names of the contract; ids are used
//    as given (callers pass validated uuids).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "common/uuid.h"

namespace scn::scheduler {

struct SchedulerConfig {
  std::chrono::milliseconds heartbeat{2000};  // what agents are told to use
  std::chrono::milliseconds node_ttl{6000};   // liveness TTL of a node
  std::chrono::milliseconds loop{500};        // reconcile period of the leader
  // Autoscaling stabilisation windows (autoscaler.h).
  std::chrono::milliseconds scale_up_window{15000};
  std::chrono::milliseconds scale_down_window{60000};
};

struct SchedulerMetrics {
  explicit SchedulerMetrics(metrics::Registry& registry);

  metrics::Counter& registrations;  // nodes registered
  metrics::Counter& heartbeats;     // heartbeats accepted
  metrics::Counter& placements;     // replicas bound to a node
  metrics::Counter& conflicts;      // binds lost to a concurrent writer
  metrics::Counter& unschedulable;  // placement attempts that found no node
  metrics::Counter& lost_nodes;     // nodes declared lost
  metrics::Counter& cycles;         // reconcile cycles run
  metrics::Counter& cycle_errors;   // reconcile cycles that failed
  metrics::Counter& route_changes;  // route documents that changed
  metrics::Gauge& leader;           // 1 while this instance leads
};

// `scn:node:{id}:alive`
std::string node_alive_key(std::string_view node_id);
// `scn:node:{id}:status`
std::string node_status_key(std::string_view node_id);
// `scn:routes:{service_id}`
std::string routes_key(std::string_view service_id);

inline constexpr std::string_view kRoutesChannel = "scn:routes";
inline constexpr std::string_view kWakeChannel = "scn:scheduler:wake";

// True for the canonical text form of a uuid (common/uuid.h).
using common::is_uuid;

}  // namespace scn::scheduler
