#include "scheduler/invariants.h"

#include <doctest/doctest.h>

#include "scheduler/assignment.h"
#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

NodeCapacity node(const char* id, int gpus, uint64_t gpu_gib, uint64_t ram_gib = 256, bool lost = false,
                  int64_t lost_for_ms = 0) {
  NodeCapacity n;
  n.node_id = id;
  for (int g = 0; g < gpus; ++g) n.gpus.emplace_back(g, gpu_gib * kGiB);
  n.ram_bytes = ram_gib * kGiB;
  n.lost = lost;
  n.lost_for_ms = lost_for_ms;
  return n;
}

BoundReplica gpu(const char* id, const char* node, int index, uint64_t gib, const char* service = "svc") {
  return {id, service, node, DeviceKind::kGpu, index, gib * kGiB};
}

BoundReplica cpu(const char* id, const char* node, uint64_t gib) {
  return {id, "svc", node, DeviceKind::kCpu, -1, gib * kGiB};
}

TEST_CASE("invariants: each rule, one table") {
  struct Case {
    const char* name;
    InvariantInput input;
    std::vector<std::string> kinds;  // expected violation kinds, in order
    std::string first_subject;
  };
  const std::vector<Case> cases = {
      {"clean", {{node("n1", 2, 80)}, {gpu("r1", "n1", 0, 40), gpu("r2", "n1", 0, 40), gpu("r3", "n1", 1, 80)}, {}, 1000},
       {}, ""},
      {"GPU over-committed", {{node("n1", 2, 80)}, {gpu("r1", "n1", 1, 40), gpu("r2", "n1", 1, 41)}, {}, 1000},
       {"gpu_overcommit"}, "n1/gpu 1"},
      {"GPU index the node lacks", {{node("n1", 2, 80)}, {gpu("r1", "n1", 5, 1)}, {}, 1000}, {"gpu_overcommit"},
       "n1/gpu 5"},
      {"unknown node", {{node("n1", 1, 80)}, {gpu("r1", "ghost", 0, 1)}, {}, 1000}, {"gpu_overcommit"}, "ghost"},
      {"RAM over-committed", {{node("n1", 0, 0, 64)}, {cpu("r1", "n1", 40), cpu("r2", "n1", 30)}, {}, 1000},
       {"ram_overcommit"}, "n1"},
      {"above max", {{}, {}, {{"svc-a", 1, 3, 4, true}}, 1000}, {"service_above_max"}, "svc-a"},
      {"below min without reason", {{}, {}, {{"svc-a", 2, 3, 1, false}}, 1000}, {"service_below_min"}, "svc-a"},
      {"below min with a reason", {{}, {}, {{"svc-a", 2, 3, 1, true}}, 1000}, {}, ""},
      {"on a lost node within the TTL", {{node("n1", 1, 80, 256, true, 900)}, {gpu("r1", "n1", 0, 1)}, {}, 1000},
       {}, ""},
      {"on a lost node past the TTL", {{node("n1", 1, 80, 256, true, 1001)}, {gpu("r1", "n1", 0, 1)}, {}, 1000},
       {"replica_on_lost_node"}, "r1"},
      {"several, sorted by kind",
       {{node("n1", 1, 80, 256, true, 5000)}, {gpu("r1", "n1", 0, 50), gpu("r2", "n1", 0, 50)},
        {{"svc-z", 0, 1, 2, false}}, 1000},
       {"gpu_overcommit", "replica_on_lost_node", "replica_on_lost_node", "service_above_max"}, "n1/gpu 0"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto v = check_invariants(c.input);
    std::vector<std::string> kinds;
    for (const auto& x : v) kinds.push_back(x.kind);
    CHECK(kinds == c.kinds);
    if (!v.empty()) CHECK(v[0].subject == c.first_subject);
  }
}

TEST_CASE("invariants: the detail says by how much") {
  InvariantInput in{{node("n1", 1, 80)}, {gpu("r1", "n1", 0, 50), gpu("r2", "n1", 0, 50)}, {}, 1000};
  CHECK(format_violations(check_invariants(in)) == "gpu_overcommit n1/gpu 0: 100 GiB reserved on a 80 GiB GPU\n");
}

TEST_CASE("invariants: capacity_of a snapshot") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  Node n = test::gpu_node("n1", "c1", "H200", 2, 141, 141);
  n.alive = false;
  REQUIRE(s.add_node(n).is_ok());
  const auto caps = capacity_of(s);
  REQUIRE(caps.size() == 1);
  CHECK(caps[0].node_id == "n1");
  CHECK(caps[0].gpus.size() == 2);
  CHECK(caps[0].gpus[1].second == 141 * kGiB);
  CHECK(caps[0].lost);
}

}  // namespace
}  // namespace scn::scheduler
