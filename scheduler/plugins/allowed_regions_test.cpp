#include "scheduler/plugins/allowed_regions.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("allowed_regions: data residency, fail closed") {
  struct Case {
    const char* region;  // of the node's center
    std::vector<std::string> allowed;
    bool pass;
    const char* reason;
  };
  const Case cases[] = {
      {"guangdong", {}, true, ""},
      {"guangdong", {"guangdong"}, true, ""},
      {"guangdong", {"beijing", "Guangdong "}, true, ""},  // case and spaces ignored
      {"GuangDong", {"guangdong"}, true, ""},
      {"guangdong", {"beijing"}, false, "region guangdong not allowed (allowed: beijing)"},
      {"guangdong", {"beijing", "shanghai"}, false, "region guangdong not allowed (allowed: beijing, shanghai)"},
      {"", {}, false, "region of center c1 is unknown"},
      {"  ", {}, false, "region of center c1 is unknown"},
      {"unknown", {}, false, "region of center c1 is unknown"},
      {"Unknown", {"unknown"}, false, "region of center c1 is unknown"},
      {"", {""}, false, "region of center c1 is unknown"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.region);
    CAPTURE(c.allowed.size());
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", c.region)).is_ok());
    REQUIRE(s.add_node(test::gpu_node("n", "c1", "H200", 1, 141, 141)).is_ok());
    ReplicaRequest r = test::request(1);
    r.allowed_regions = c.allowed;
    const auto v = test::run_filter(AllowedRegionsFilter(), s, r, "n");
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

}  // namespace
}  // namespace scn::scheduler
