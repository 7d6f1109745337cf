#include "scheduler/plugins/latency.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("latency: centers near the tenant's province score higher") {
  auto m = parse_latency_matrix(
      "# from,to,ms\n"
      "beijing,beijing,2\n"
      "beijing, Tianjin ,5\n"
      "beijing,guangdong,40\n"
      "beijing,xinjiang,120\n");
  REQUIRE(m.is_ok());
  const LatencyScore plugin(std::make_shared<const LatencyMatrix>(*m));
  struct Case {
    const char* tenant_region;
    const char* center_region;
    double score;
  };
  const Case cases[] = {
      {"beijing", "beijing", 98},  {"BEIJING", "tianjin", 95}, {"beijing", "guangdong", 60},
      {"beijing", "xinjiang", 0},  // beyond 100 ms: clamped
      {"guangdong", "beijing", 60},  // symmetric
      {"beijing", "tibet", 0},       // not in the matrix
      {"", "xinjiang", 100},         // no preference
  };
  for (const Case& c : cases) {
    CAPTURE(c.tenant_region);
    CAPTURE(c.center_region);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", c.center_region)).is_ok());
    REQUIRE(s.add_node(test::gpu_node("n", "c1", "H200", 1, 141, 141)).is_ok());
    ReplicaRequest r = test::request(1);
    r.tenant_region = c.tenant_region;
    CHECK(test::run_score(plugin, s, r, "n") == doctest::Approx(c.score));
    const Cycle cycle(s, r);
    CHECK(plugin.score_center(cycle, s.centers()[0]) == doctest::Approx(c.score));
  }
}

TEST_CASE("latency: matrix parse errors name the line") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"beijing,tianjin", "latency matrix line 1: expected from,to,ms"},
      {"\nbeijing,tianjin,fast", "latency matrix line 2: round-trip time must be a number >= 0, got 'fast'"},
      {"beijing,tianjin,-1", "latency matrix line 1: round-trip time must be a number >= 0, got '-1'"},
      {",tianjin,3", "latency matrix line 1: empty region"},
      {"a,b,1,2", "latency matrix line 1: expected from,to,ms"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto m = parse_latency_matrix(c.text);
    REQUIRE_FALSE(m.is_ok());
    CHECK(m.status().message() == c.error);
  }
}

TEST_CASE("latency: the default China matrix grows with distance") {
  const LatencyMatrix& m = china_latency_matrix();
  CHECK(m.size() == 31 * 31);
  CHECK(*m.rtt_ms("beijing", "beijing") == doctest::Approx(2));
  CHECK(*m.rtt_ms("beijing", "tianjin") < *m.rtt_ms("beijing", "shanghai"));
  CHECK(*m.rtt_ms("beijing", "shanghai") < *m.rtt_ms("beijing", "guangdong"));
  CHECK(*m.rtt_ms("beijing", "guangdong") < *m.rtt_ms("beijing", "xinjiang"));
  CHECK(*m.rtt_ms("guangdong", "beijing") == *m.rtt_ms("beijing", "guangdong"));
}

}  // namespace
}  // namespace scn::scheduler
