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

TEST_CASE("latency: the per-thread memo keeps plugins, tenants, centers and snapshots apart") {
  auto near = parse_latency_matrix("beijing,beijing,2\nbeijing,guangdong,40\n");
  auto far = parse_latency_matrix("beijing,beijing,50\nbeijing,guangdong,90\n");
  REQUIRE(near.is_ok());
  REQUIRE(far.is_ok());
  const LatencyScore a(std::make_shared<const LatencyMatrix>(*near));
  const LatencyScore b(std::make_shared<const LatencyMatrix>(*far));
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_center(test::center("c2", "guangdong")).is_ok());
  ReplicaRequest r = test::request(1);
  struct Case {
    const LatencyScore* plugin;
    const char* tenant;
    int center;
    double score;
  };
  const Case cases[] = {
      {&a, "beijing", 0, 98}, {&b, "beijing", 0, 50}, {&a, "beijing", 1, 60}, {&b, "beijing", 1, 10},
      {&a, "guangdong", 0, 60}, {&a, "beijing", 0, 98},  // again, after another tenant
  };
  for (int round = 0; round < 2; ++round) {  // the second round reads the memo
    for (const Case& c : cases) {
      CAPTURE(c.tenant);
      CAPTURE(c.center);
      r.tenant_region = c.tenant;
      const Cycle cycle(s, r);
      CHECK(c.plugin->score_center(cycle, s.centers()[c.center]) == doctest::Approx(c.score));
    }
  }
  // A center that is not the snapshot's own is scored directly.
  r.tenant_region = "beijing";
  const Cycle cycle(s, r);
  Center outside = test::center("cx", "guangdong");
  CHECK(a.score_center(cycle, outside) == doctest::Approx(60));
  // A new center (a structure change) is scored, not read from a stale memo.
  REQUIRE(s.add_center(test::center("c3", "guangdong")).is_ok());
  const Cycle after(s, r);
  CHECK(a.score_center(after, s.centers()[2]) == doctest::Approx(60));
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
