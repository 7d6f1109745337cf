#include "scheduler/plugins/node_alive.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("node_alive: center active and node alive (draining is not_draining's)") {
  struct Case {
    const char* name;
    CenterStatus center_status;
    bool alive;
    bool draining;
    bool pass;
    const char* reason;
  };
  const Case cases[] = {
      {"healthy", CenterStatus::kActive, true, false, true, ""},
      {"dead", CenterStatus::kActive, false, false, false, "node not alive (no heartbeat within the TTL)"},
      {"draining", CenterStatus::kActive, true, true, true, ""},
      {"dead and draining", CenterStatus::kActive, false, true, false,
       "node not alive (no heartbeat within the TTL)"},
      {"center in maintenance", CenterStatus::kMaintenance, true, false, false, "center c1 is maintenance"},
      {"center retired", CenterStatus::kRetired, true, false, false, "center c1 is retired"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "guangdong", 10, 0.1, c.center_status)).is_ok());
    Node n = test::gpu_node("n1", "c1", "H200", 1, 141, 141);
    n.alive = c.alive;
    n.draining = c.draining;
    REQUIRE(s.add_node(n).is_ok());
    const auto v = test::run_filter(NodeAliveFilter(), s, test::request(1), "n1");
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

}  // namespace
}  // namespace scn::scheduler
