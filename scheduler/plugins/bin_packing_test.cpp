#include "scheduler/plugins/bin_packing.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

// Weights 16 GiB: need(gpu) 17.5 GiB, need(cpu) 17.0625 GiB.
TEST_CASE("bin_packing: fuller device after placement scores higher") {
  struct Case {
    const char* name;
    Node node;
    DeviceKind kind;
    double score;
  };
  const Case cases[] = {
      {"fills the GPU exactly", test::gpu_node("n", "c1", "L40S", 1, 48, 17.5), DeviceKind::kGpu, 100},
      {"half-used 80 GiB GPU", test::gpu_node("n", "c1", "A100-80G", 1, 80, 40), DeviceKind::kGpu, 71.875},
      {"empty 80 GiB GPU", test::gpu_node("n", "c1", "A100-80G", 1, 80, 80), DeviceKind::kGpu, 21.875},
      {"empty 140 GiB GPU", test::gpu_node("n", "c1", "H200", 1, 140, 140), DeviceKind::kGpu, 12.5},
      {"RAM of a CPU replica", test::cpu_node("n", "c1", 8, 34.125, 34.125), DeviceKind::kCpu, 50},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    REQUIRE(s.add_node(c.node).is_ok());
    CHECK(test::run_score(BinPackingScore(), s, test::request(16, c.kind), "n") == doctest::Approx(c.score));
  }
}

TEST_CASE("bin_packing: on a node it judges the GPU the fit rule picks (best fit)") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  Node n = test::gpu_node("n", "c1", "A100-80G", 3, 80, 80);
  n.gpus[1].free_bytes = 20 * kGiB;  // the tightest that fits: after 2.5 of 80
  n.gpus[2].free_bytes = 10 * kGiB;  // too small
  REQUIRE(s.add_node(n).is_ok());
  CHECK(test::run_score(BinPackingScore(), s, test::request(16), "n") == doctest::Approx(100 * (1 - 2.5 / 80)));
}

}  // namespace
}  // namespace scn::scheduler
