#include "scheduler/queue_sort.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace scn::scheduler {
namespace {

ReplicaRequest req(const char* id, int priority, int64_t created) {
  ReplicaRequest r;
  r.replica_id = id;
  r.priority = priority;
  r.created_at_ms = created;
  return r;
}

TEST_CASE("queue sort: priority first, then age, then replica id") {
  struct Case {
    const char* name;
    std::vector<ReplicaRequest> in;
    std::vector<std::string> order;
  };
  const Case cases[] = {
      {"priority wins over age", {req("old-low", 0, 1), req("new-high", 10, 9)}, {"new-high", "old-low"}},
      {"older first at equal priority", {req("b", 5, 20), req("a", 5, 10)}, {"a", "b"}},
      {"id breaks ties", {req("r2", 1, 7), req("r1", 1, 7)}, {"r1", "r2"}},
      {"negative priorities last",
       {req("batch", -5, 1), req("default", 0, 3), req("critical", 100, 5)},
       {"critical", "default", "batch"}},
      {"empty", {}, {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::vector<ReplicaRequest> q = c.in;
    sort_queue(q);
    std::vector<std::string> got;
    for (const auto& r : q) got.push_back(r.replica_id);
    CHECK(got == c.order);
  }
}

TEST_CASE("queue sort: works on wrappers holding a request") {
  struct Pending {
    int tag;
    ReplicaRequest request;
  };
  std::vector<Pending> q = {{1, req("x", 0, 5)}, {2, req("y", 3, 9)}, {3, req("z", 0, 1)}};
  sort_queue(q, [](const Pending& p) -> const ReplicaRequest& { return p.request; });
  CHECK(q[0].tag == 2);
  CHECK(q[1].tag == 3);
  CHECK(q[2].tag == 1);
}

}  // namespace
}  // namespace scn::scheduler
