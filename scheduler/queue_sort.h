// Queue sort, the first extension point of a scheduling cycle: the order in
// which pending replicas are placed.
//
// Contract:
//  - queue_before(a, b): higher ReplicaRequest::priority first; among equal
//    priorities the older (smaller created_at_ms) first; then replica id, so
//    the order is total and the same for the same set.
//  - sort_queue() sorts a vector of anything that yields a ReplicaRequest
//    (`request_of(item)`), stably, by queue_before.
#pragma once

#include <algorithm>
#include <vector>

#include "scheduler/snapshot.h"

namespace scn::scheduler {

bool queue_before(const ReplicaRequest& a, const ReplicaRequest& b);

template <class T, class RequestOf>
void sort_queue(std::vector<T>& items, RequestOf request_of) {
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) {
    return queue_before(request_of(a), request_of(b));
  });
}

inline void sort_queue(std::vector<ReplicaRequest>& requests) {
  sort_queue(requests, [](const ReplicaRequest& r) -> const ReplicaRequest& { return r; });
}

}  // namespace scn::scheduler
