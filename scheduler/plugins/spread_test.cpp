#include "scheduler/plugins/spread.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

// Pool: center c1 {a, b}, center c2 {c}. Score 75/(1+n)^2 + 25/(1+c).
TEST_CASE("spread: fewer replicas of the service on the node and in its center") {
  struct Case {
    const char* name;
    std::vector<std::string> existing;  // nodes holding a replica of svc-1
    std::vector<std::string> other;     // nodes holding a replica of svc-2
    double score_on_a;
  };
  const Case cases[] = {
      {"service has no replica", {}, {}, 100},
      {"only another service is here", {}, {"a", "a"}, 100},
      {"replica in the other center", {"c"}, {}, 100},
      {"replica on another node of the center", {"b"}, {}, 87.5},
      {"replica on this node", {"a"}, {}, 31.25},
      {"two on this node", {"a", "a"}, {}, 75.0 / 9 + 25.0 / 3},
      {"one here, one next door", {"a", "b"}, {}, 18.75 + 25.0 / 3},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    REQUIRE(s.add_center(test::center("c2", "shanghai")).is_ok());
    for (const char* id : {"a", "b"}) REQUIRE(s.add_node(test::gpu_node(id, "c1", "H200", 1, 141, 141)).is_ok());
    REQUIRE(s.add_node(test::gpu_node("c", "c2", "H200", 1, 141, 141)).is_ok());
    for (const std::string& n : c.existing) REQUIRE(s.add_service_replica("svc-1", n).is_ok());
    for (const std::string& n : c.other) REQUIRE(s.add_service_replica("svc-2", n).is_ok());
    CHECK(test::run_score(SpreadScore(), s, test::request(1), "a") == doctest::Approx(c.score_on_a));
  }
}

TEST_CASE("spread: a reservation of this cycle counts, and unreserve forgets it") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("a", "c1", "H200", 1, 141, 141)).is_ok());
  const ReplicaRequest first = test::request(1, DeviceKind::kGpu, "svc-1", "r-1");
  const Cycle cycle(s, first);
  const auto a = plan_assignment(cycle, s.nodes()[0], s.centers()[0]);
  REQUIRE(a.has_value());
  REQUIRE(s.reserve(first, "a", *a).is_ok());
  const ReplicaRequest second = test::request(1, DeviceKind::kGpu, "svc-1", "r-2");
  CHECK(test::run_score(SpreadScore(), s, second, "a") == doctest::Approx(31.25));
  CHECK(s.unreserve("r-1"));
  CHECK(test::run_score(SpreadScore(), s, second, "a") == doctest::Approx(100));
}

}  // namespace
}  // namespace scn::scheduler
