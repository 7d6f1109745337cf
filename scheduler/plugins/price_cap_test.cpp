#include "scheduler/plugins/price_cap.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

// Weights 16 GiB: need(gpu) 17.5 GiB = a quarter of a 70 GiB GPU.
TEST_CASE("price_cap: the replica's share of the device price against the cap") {
  struct Case {
    const char* name;
    DeviceKind kind;
    std::optional<double> cap;
    bool pass;
    const char* reason;
  };
  const Case cases[] = {
      {"no cap", DeviceKind::kGpu, std::nullopt, true, ""},
      {"GPU share 20 x 1/4 = 5 under 6", DeviceKind::kGpu, 6.0, true, ""},
      {"GPU share exactly the cap", DeviceKind::kGpu, 5.0, true, ""},
      {"GPU share above", DeviceKind::kGpu, 4.5, false,
       "price 5 per hour above the cap 4.5 (GPU share at 20 per GPU-hour)"},
      {"CPU 4 cores x 0.25 = 1", DeviceKind::kCpu, 1.0, true, ""},
      {"CPU above", DeviceKind::kCpu, 0.5, false, "price 1 per hour above the cap 0.5 (4 cores at 0.25 per core-hour)"},
      {"cap 0 rejects a priced node", DeviceKind::kCpu, 0.0, false,
       "price 1 per hour above the cap 0 (4 cores at 0.25 per core-hour)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing", 20, 0.25)).is_ok());
    REQUIRE(s.add_node(test::gpu_node("n", "c1", "X", 1, 70, 70)).is_ok());
    ReplicaRequest r = test::request(16, c.kind);
    r.cpu_cores = 4;
    r.price_cap_per_hour = c.cap;
    const auto v = test::run_filter(PriceCapFilter(), s, r, "n");
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

TEST_CASE("price_cap: a node nothing fits on is left to fits") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing", 20, 0.25)).is_ok());
  REQUIRE(s.add_node(test::gpu_node("n", "c1", "X", 1, 70, 1)).is_ok());
  ReplicaRequest r = test::request(16);
  r.price_cap_per_hour = 0.0;
  CHECK(test::run_filter(PriceCapFilter(), s, r, "n").pass);
}

}  // namespace
}  // namespace scn::scheduler
