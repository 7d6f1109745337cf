#include "scheduler/plugins/model_present.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("model_present: weights already cached on the node") {
  struct Case {
    const char* name;
    std::vector<std::string> on_node;   // node "n"
    std::vector<std::string> elsewhere;  // node "m"
    double score;
  };
  const Case cases[] = {
      {"cached here", {"model-b", "model-a"}, {}, 100},
      {"cached only elsewhere", {"model-b"}, {"model-a"}, 0},
      {"nowhere in the pool", {"model-b"}, {"model-c"}, 0},
      {"node has none", {}, {}, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    Node n = test::gpu_node("n", "c1", "H200", 1, 141, 141);
    n.models = c.on_node;
    Node m = test::gpu_node("m", "c1", "H200", 1, 141, 141);
    m.models = c.elsewhere;
    REQUIRE(s.add_node(n).is_ok());
    REQUIRE(s.add_node(m).is_ok());
    CHECK(test::run_score(ModelPresentScore(), s, test::request(1), "n") == c.score);
  }
}

TEST_CASE("model_present: beyond 64 model keys a bloom bit is checked against the node's models") {
  // Node "m" interns model-a and 63 others (ids 0..63); node "n" holds only
  // model-x64 (id 64), whose bloom bit is model-a's.
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  Node m = test::gpu_node("m", "c1", "H200", 1, 141, 141);
  m.models.push_back("model-a");
  for (int k = 1; k < 64; ++k) m.models.push_back("model-x" + std::to_string(k));
  REQUIRE(s.add_node(m).is_ok());
  Node n = test::gpu_node("n", "c1", "H200", 1, 141, 141);
  n.models = {"model-x64"};
  REQUIRE(s.add_node(n).is_ok());
  REQUIRE(s.model_key_count() == 65);
  CHECK(test::run_score(ModelPresentScore(), s, test::request(1), "m") == 100);
  CHECK(test::run_score(ModelPresentScore(), s, test::request(1), "n") == 0);
}

}  // namespace
}  // namespace scn::scheduler
