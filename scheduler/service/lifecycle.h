// The reconcile steps that keep PostgreSQL's replicas in line with what is
// wanted and what is alive (the placement step is in reconciler.h).
//
// Contract:
//  - mark_lost_nodes(): a node in status ready/draining whose Redis key
//    `scn:node:{id}:alive` is absent AND whose last heartbeat is older than
//    `node_ttl` (both: a Redis flush alone never loses a node) becomes
//    'lost' (status_reason says since when, version + 1), and its replicas in
//    scheduled/starting/ready/failed/stopping become 'lost' (stopped_at,
//    reason "node lost"). When Redis cannot be asked, nothing is marked
//    (an error is returned). Returns the ids of the nodes marked.
//  - reconcile_replica_counts(): first, live replicas on removed or lost
//    nodes become 'lost'. Then for every service, with wanted =
//    replicas_wanted (0 when the service is stopped or deleted) and live =
//    its replicas in pending/scheduled/starting/ready/failed: live < wanted
//    inserts pending replicas; live > wanted retires the extras, preferring
//    pending (deleted: a pending row has no node to stop on), then failed,
//    then scheduled, starting, and ready last, newest first; retired bound
//    replicas become 'stopping' (the agent stops them; its heartbeat makes
//    them 'stopped').
//    Draining nodes, make-before-break: a service's live replicas on a
//    draining node are 'migrating' (reason "migrating: node draining") and
//    do not count in `live`, so replacements are created (and placed on
//    other nodes; placement never picks a draining node). A migrating
//    replica that is not ready stops at once (reason "node draining"); a
//    ready one stops (reason "moved off a draining node") only while the
//    service's ready replicas on other nodes plus the migrating ready ones
//    left stay >= wanted: the old replica serves until its replacement is
//    ready. Undraining makes them ordinary replicas again (extras retire).
//  - update_service_statuses(): status from the replicas, for services that
//    are not stopped or deleted: ready when ready >= wanted > 0; degraded when
//    0 < ready < wanted; starting when some are scheduled/starting; failed
//    when every live one failed; pending otherwise. status_reason: the
//    why-pending of a pending replica (or the reason of a failed one), NULL
//    when ready. Rows are written only when something changed. Returns how
//    many services changed.
//  - `epoch` (fencing.h): every write transaction first runs
//    check_epoch(tx, epoch); a deposed leader's step fails with fenced()
//    and writes nothing. 0 (kNoFence): unchecked (tests, tools).
//  - Each step is its own transaction(s); any failure is a Status and a
//    step may simply be run again (level-triggered).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::scheduler {

Result<std::vector<std::string>> mark_lost_nodes(db::PgPool& pool, redis::RedisClient& redis,
                                                 std::chrono::milliseconds node_ttl,
                                                 int64_t epoch = 0);

struct CountChanges {
  int replicas_lost = 0;      // live replicas of removed/lost nodes marked lost
  int created = 0;            // pending replicas inserted
  int deleted_pending = 0;    // pending extras deleted
  int stopping = 0;           // bound extras marked stopping
  int migrating_marked = 0;   // replicas on draining nodes given reason "migrating: ..."
  int migrated = 0;           // replicas on draining nodes marked stopping
};

Result<CountChanges> reconcile_replica_counts(db::PgPool& pool, int64_t epoch = 0);

Result<int> update_service_statuses(db::PgPool& pool, int64_t epoch = 0);

}  // namespace scn::scheduler
