// Reading the pool from PostgreSQL (and liveness from Redis) into a placement
// Snapshot, with the pending replicas to place.
//
// Contract:
//  - load_pool() reads, in one read-only REPEATABLE READ transaction: active
//    centers; nodes not removed with their devices (one Node per node: the
//    cpu row gives cores and RAM, each GPU row `count` GPUs numbered
//    node-wide in device-id order); free resources = totals minus the
//    memory_bytes / cpu_threads of the node's replicas in scheduled,
//    starting, ready, failed or stopping (per GPU for GPU replicas; clamped
//    at 0); the model files each node holds ('present'); where each
//    service's live replicas are (for spread); and the pending replicas of
//    services that are neither stopped nor deleted, oldest first.
//  - A node is alive when its status is ready or draining and either its
//    Redis key `scn:node:{id}:alive` exists or its last heartbeat is younger
//    than `node_ttl` (a Redis failure leaves only the second test); draining
//    when its status is draining.
//  - Each pending replica gets its ReplicaRequest: requirements from the
//    catalog facts of the service's file (weights = file size, KV bytes per
//    token = catalog::kv_bytes_per_token(facts, engine element bytes),
//    context = the service's context_length), and from the service's
//    placement JSON {"regions","device_kind","device_models",
//    "price_cap_per_hour","cpu_threads"} combined with the tenant's
//    allowed_regions (both given: their intersection). A placement that
//    cannot be read, or regions outside the tenant's, leaves `invalid` set
//    (the why-pending text) instead.
//  - Sharing (quotas.h): `quotas` of the tenants that set one, `usage` of
//    every tenant with bound replicas in scheduled/starting/ready/failed/
//    stopping, and those replicas as RunningReplica (stopping ones only when
//    their reason starts with "preempted", marked `preempted`). Pending
//    replicas come highest services.priority first, then oldest.
//  - node_versions and gpu_offsets are what binding (binder.h) needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/service/quotas.h"
#include "scheduler/snapshot.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::scheduler {

struct PendingReplica {
  std::string replica_id;
  int priority = 0;           // services.priority (also in request.priority)
  int64_t version = 0;        // replicas.version as read
  std::string reason;         // replicas.reason as read
  ReplicaRequest request;
  std::string invalid;        // non-empty: cannot be placed, and why
};

struct PoolView {
  Snapshot snapshot;
  std::map<std::string, int64_t> node_versions;  // nodes.version as read
  std::map<int64_t, int> gpu_offsets;            // GPU devices.id -> first node-wide index
  std::vector<PendingReplica> pending;   // highest priority first, then oldest
  std::map<std::string, TenantQuota> quotas;  // tenants with a quota set
  std::map<std::string, TenantUsage> usage;   // per tenant: its bound live replicas
  std::vector<RunningReplica> running;        // bound live replicas (preemption)
};

Result<PoolView> load_pool(db::PgPool& pool, redis::RedisClient* redis,
                           std::chrono::milliseconds node_ttl);

// The ReplicaRequest fields that come from a service's placement JSON text
// and its tenant's allowed regions (nullopt: anywhere). An error message
// (the why-pending text) when the placement cannot be honoured.
Result<ReplicaRequest> placement_request(std::string_view placement_json,
                                         const std::optional<std::vector<std::string>>& tenant_regions);

}  // namespace scn::scheduler
