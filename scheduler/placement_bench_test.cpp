#include "scheduler/placement_bench.h"

#include <doctest/doctest.h>

namespace scn::scheduler {
namespace {

TEST_CASE("the synthetic pool: centers, GPU and CPU nodes, all simulated") {
  const Snapshot s = make_synthetic_pool(120, 12, 7);
  CHECK(s.centers().size() == 12);
  CHECK(s.nodes().size() == 120);
  int gpu_nodes = 0, cpu_nodes = 0;
  for (const Node& n : s.nodes()) {
    CHECK(n.simulated);
    (n.gpus.empty() ? cpu_nodes : gpu_nodes)++;
  }
  CHECK(cpu_nodes == 20);  // centers 5 and 11 are CPU-only
  CHECK(gpu_nodes == 100);
  CHECK(s.gpu_model_count() == 4);
}

TEST_CASE("the placement bench is deterministic for a seed") {
  PlacementBenchOptions o;
  o.nodes = 300;
  o.centers = 10;
  o.replicas = 400;
  auto a = run_placement_bench(o);
  auto b = run_placement_bench(o);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->decisions == 400);
  CHECK(a->placed + a->unschedulable == 400);
  CHECK(a->placed > 300);
  CHECK(a->digest == b->digest);
  CHECK(a->placed == b->placed);
  CHECK(a->gpu_memory_used > 0);
  CHECK(a->decisions_per_second > 0);
  CHECK(a->p99_us >= a->p50_us);
  CHECK(a->example_why_here.find("score") != std::string::npos);
  o.seed = 2;
  auto c = run_placement_bench(o);
  REQUIRE(c.is_ok());
  CHECK(c->digest != a->digest);
  o.max_feasible_nodes = 20;
  auto d = run_placement_bench(o);
  REQUIRE(d.is_ok());
  CHECK(d->placed > 300);
}

TEST_CASE("the placement bench rejects impossible sizes") {
  struct Case {
    int nodes, centers, replicas;
  };
  for (const Case& c : {Case{0, 1, 1}, Case{10, 0, 1}, Case{5, 10, 1}, Case{10, 2, -1}}) {
    PlacementBenchOptions o;
    o.nodes = c.nodes;
    o.centers = c.centers;
    o.replicas = c.replicas;
    CHECK(run_placement_bench(o).status().code() == Code::kInvalidArgument);
  }
  CHECK(run_placement_bench(0, 10) == 0);
  CHECK(run_placement_bench(50, 20) > 0);
}

}  // namespace
}  // namespace scn::scheduler
