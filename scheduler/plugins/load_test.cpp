#include "scheduler/plugins/load.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("load: fewer replicas and requests in flight score higher") {
  struct Case {
    int replicas;
    uint32_t outstanding;
    double score;
  };
  const Case cases[] = {{0, 0, 100}, {1, 0, 50}, {0, 4, 50}, {3, 4, 20}, {0, 36, 10}};
  for (const Case& c : cases) {
    CAPTURE(c.replicas);
    CAPTURE(c.outstanding);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    REQUIRE(s.add_node(test::gpu_node("n", "c1", "H200", 8, 141, 141)).is_ok());
    for (int i = 0; i < c.replicas; ++i) REQUIRE(s.add_service_replica("svc-" + std::to_string(i), "n").is_ok());
    REQUIRE(s.set_node_outstanding("n", c.outstanding).is_ok());
    CHECK(test::run_score(LoadScore(), s, test::request(1), "n") == doctest::Approx(c.score));
  }
}

TEST_CASE("load: a reservation counts at once and unreserve gives it back") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("n", "c1", "H200", 8, 141, 141)).is_ok());
  const ReplicaRequest r = test::request(1);
  const Cycle cycle(s, r);
  const auto a = plan_assignment(cycle, s.nodes()[0], s.centers()[0]);
  REQUIRE(a);
  REQUIRE(s.reserve(r, "n", *a).is_ok());
  CHECK(test::run_score(LoadScore(), s, r, "n") == doctest::Approx(50));
  CHECK(s.unreserve("r-1"));
  CHECK(test::run_score(LoadScore(), s, r, "n") == doctest::Approx(100));
}

}  // namespace
}  // namespace scn::scheduler
