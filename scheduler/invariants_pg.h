// The invariant checker over PostgreSQL: `scn scheduler check --pg-url URL`.
//
// Contract:
//  - load_invariant_input() reads, in one read-only REPEATABLE READ
//    transaction, the InvariantInput (invariants.h) of the live pool:
//      nodes not removed with their GPUs (each GPU device row `count` GPUs
//      numbered node-wide in device-id order, as the pool loader does) and
//      RAM; a node in status lost has been lost for
//      max(0, now - last heartbeat - TTL);
//      replicas holding resources (scheduled, starting, ready, failed,
//      stopping; live = the first three), GPU ones per GPU index;
//      services neither stopped nor deleted: minimum and maximum are
//      min_replicas/max_replicas when autoscaled, else replicas_wanted; the
//      counted replicas are the live ones that replace no other (a drain's
//      make-before-break twin is not counted); a reason is recorded when the
//      service has a status_reason, a pending replica has a reason, or a
//      replica was created within the TTL (still being placed).
//  - check_main(): `scn scheduler check --pg-url URL [--node-ttl-ms N]`
//    prints each violation and a summary line; exit 0 clean, 1 violations,
//    2 bad options or the database unreachable.
#pragma once

#include <chrono>

#include "common/status.h"
#include "scheduler/invariants.h"

namespace scn::db {
class PgPool;
}

namespace scn::scheduler {

Result<InvariantInput> load_invariant_input(db::PgPool& pool, std::chrono::milliseconds node_ttl);

int check_main(int argc, char** argv);

}  // namespace scn::scheduler
