#include "scheduler/plugins/not_draining.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("not_draining: a draining node takes nothing new, alive or not") {
  struct Case {
    bool alive;
    bool draining;
    bool pass;
    const char* reason;
  };
  const Case cases[] = {
      {true, false, true, ""},
      {true, true, false, "node is draining"},
      {false, false, true, ""},  // node_alive's business
      {false, true, false, "node is draining"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.alive);
    CAPTURE(c.draining);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "guangdong")).is_ok());
    Node n = test::gpu_node("n1", "c1", "H200", 1, 141, 141);
    n.alive = c.alive;
    n.draining = c.draining;
    REQUIRE(s.add_node(n).is_ok());
    const auto v = test::run_filter(NotDrainingFilter(), s, test::request(1), "n1");
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

}  // namespace
}  // namespace scn::scheduler
