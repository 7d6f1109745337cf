#include "scheduler/plugins/price.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("price: cheaper scores higher, raw = 100 / (1 + price per hour)") {
  struct Case {
    const char* name;
    double gpu_hour;
    double core_hour;
    DeviceKind kind;
    double score;
  };
  // Weights 16 GiB on a 70 GiB GPU: a quarter of the GPU (need 17.5 GiB).
  const Case cases[] = {
      {"free", 0, 0, DeviceKind::kGpu, 100},
      {"GPU share 20 x 1/4 = 5", 20, 0.1, DeviceKind::kGpu, 100.0 / 6},
      {"GPU share 4 x 1/4 = 1", 4, 0.1, DeviceKind::kGpu, 50},
      {"CPU 4 cores x 0.75 = 3", 10, 0.75, DeviceKind::kCpu, 25},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing", c.gpu_hour, c.core_hour)).is_ok());
    REQUIRE(s.add_node(test::gpu_node("n", "c1", "X", 1, 70, 70)).is_ok());
    ReplicaRequest r = test::request(16, c.kind);
    r.cpu_cores = 4;
    CHECK(test::run_score(PriceScore(), s, r, "n") == doctest::Approx(c.score));
  }
  CHECK(PriceScore().normalize());
}

}  // namespace
}  // namespace scn::scheduler
