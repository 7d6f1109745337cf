#include "scheduler/plugins/taints.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("taints: node labels taint.<key>=<effect> against the replica's tolerations") {
  struct Case {
    const char* name;
    std::map<std::string, std::string> labels;
    std::vector<std::string> tolerations;
    bool pass;
    const char* reason;
  };
  const Case cases[] = {
      {"no taints", {{"zone", "a"}}, {}, true, ""},
      {"untolerated", {{"taint.gpu-reserved", "NoSchedule"}}, {}, false,
       "untolerated taint gpu-reserved=NoSchedule"},
      {"tolerated by key", {{"taint.gpu-reserved", "NoSchedule"}}, {"gpu-reserved"}, true, ""},
      {"tolerated by key=effect", {{"taint.gpu-reserved", "NoSchedule"}}, {"gpu-reserved=NoSchedule"}, true, ""},
      {"other effect not tolerated", {{"taint.gpu-reserved", "NoExecute"}}, {"gpu-reserved=NoSchedule"}, false,
       "untolerated taint gpu-reserved=NoExecute"},
      {"wildcard", {{"taint.a", "NoSchedule"}, {"taint.b", "NoExecute"}}, {"*"}, true, ""},
      {"prefer is not a filter", {{"taint.spot", "PreferNoSchedule"}}, {}, true, ""},
      {"unknown effect fails closed", {{"taint.x", "Sometimes"}}, {}, false, "untolerated taint x=Sometimes"},
      {"second taint untolerated", {{"taint.a", "NoSchedule"}, {"taint.b", "NoSchedule"}}, {"a"}, false,
       "untolerated taint b=NoSchedule"},
      {"prefix of a key is not the key", {{"taint.gpu", "NoSchedule"}}, {"gp", "gpu=NoSchedul"}, false,
       "untolerated taint gpu=NoSchedule"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    Node n = test::gpu_node("n", "c1", "H200", 1, 141, 141);
    n.labels = c.labels;
    REQUIRE(s.add_node(n).is_ok());
    ReplicaRequest r = test::request(1);
    r.tolerations = c.tolerations;
    const auto v = test::run_filter(TaintsFilter(), s, r, "n");
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

}  // namespace
}  // namespace scn::scheduler
