// Leader fencing: the epoch of sql/0003 (table scheduler_leases) that every
// write of the leader's reconcile cycle is checked against, so a deposed
// leader (its lock connection lost while its process still runs) cannot
// overwrite the decisions of the new one.
//
// Contract:
//  - advance_epoch() increments the single row's epoch (holder and
//    acquired_at set) and returns the new value. A scheduler calls it right
//    after taking the advisory lock (leader.h); the value is its epoch.
//  - check_epoch(tx, epoch) reads the row FOR SHARE inside the caller's
//    transaction: the transaction goes on only while `epoch` is still the
//    current one, and a later advance_epoch() waits for it to finish. A
//    different epoch returns fenced(). Every leader transaction that changes
//    replicas, nodes or services calls it first (lifecycle.h, binder.h,
//    reconciler.h), with `epoch` > 0; kNoFence (0) skips the check (tools
//    and tests that act without leading).
//  - is_fenced(status) tells a fencing refusal from other failures.
#pragma once

#include <cstdint>
#include <string>

#include "common/db/pg.h"
#include "common/status.h"

namespace scn::scheduler {

inline constexpr int64_t kNoFence = 0;

Result<int64_t> advance_epoch(db::PgPool& pool, const std::string& holder);
Result<int64_t> current_epoch(db::PgPool& pool);
Status check_epoch(pqxx::work& tx, int64_t epoch);
Status fenced(int64_t mine, int64_t current);
bool is_fenced(const Status& status);

}  // namespace scn::scheduler
