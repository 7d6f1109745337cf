#include "scheduler/queue_sort.h"

namespace scn::scheduler {

bool queue_before(const ReplicaRequest& a, const ReplicaRequest& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.created_at_ms != b.created_at_ms) return a.created_at_ms < b.created_at_ms;
  return a.replica_id < b.replica_id;
}

}  // namespace scn::scheduler
