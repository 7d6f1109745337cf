// Binding a placed replica to its node: one PostgreSQL transaction with
// optimistic concurrency, so two schedulers can never double-book a device.
//
// Contract:
//  - bind_replica() runs, in ONE transaction:
//      UPDATE replicas SET node_id, device_id, device_indices, cpu_threads,
//        memory_bytes, state = 'scheduled', scheduled_at = now(),
//        reason = <why here>, version = version + 1
//        WHERE id = replica AND version = replica_version AND state = 'pending'
//      UPDATE nodes SET version = version + 1
//        WHERE id = node AND version = node_version AND status = 'ready'
//    The transaction first runs check_epoch(epoch) (fencing.h): a deposed
//    leader's bind returns fenced() and writes nothing; the replica row
//    records bound_epoch = epoch (NULL for 0).
//    Zero rows in either rolls both back and returns kConflict (someone else
//    placed the replica, or changed the node since the snapshot was read:
//    retry with a fresh snapshot). Other failures are PgPool's Statuses.
//  - bind_request() turns a Decision of load_pool()'s snapshot into the
//    row values (GPU index made local to its devices row).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/framework.h"
#include "scheduler/service/pool_loader.h"

namespace scn::db {
class PgPool;
}

namespace scn::scheduler {

struct BindRequest {
  std::string replica_id;
  int64_t replica_version = 0;
  std::string node_id;
  int64_t node_version = 0;
  int64_t device_id = 0;  // 0: none
  std::vector<int> device_indices;
  int cpu_threads = 0;
  int64_t memory_bytes = 0;
  std::string reason;  // why here
  int64_t epoch = 0;   // the leader's fencing epoch (fencing.h); 0: unchecked
};

BindRequest bind_request(const PoolView& view, const PendingReplica& replica,
                         const Decision& decision, std::string why_here);

Status bind_replica(db::PgPool& pool, const BindRequest& request);

}  // namespace scn::scheduler
