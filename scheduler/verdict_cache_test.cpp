#include "scheduler/verdict_cache.h"

#include <random>

#include <doctest/doctest.h>

#include "scheduler/assignment.h"
#include "scheduler/framework.h"
#include "scheduler/plugins/registry.h"
#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

// Two placements are the same decision with the same explanation.
void check_same(const Placement& a, const Placement& b) {
  CHECK(a.why() == b.why());
  CHECK(a.error == b.error);
  CHECK(a.nodes_total == b.nodes_total);
  CHECK(a.nodes_evaluated == b.nodes_evaluated);
  CHECK(a.nodes_feasible == b.nodes_feasible);
  CHECK(a.nodes_skipped == b.nodes_skipped);
  REQUIRE(a.scheduled() == b.scheduled());
  if (a.scheduled()) {
    CHECK(a.decision->node_id == b.decision->node_id);
    CHECK(a.decision->assignment == b.decision->assignment);
    CHECK(a.decision->total == b.decision->total);
  }
  REQUIRE(a.rejections.size() == b.rejections.size());
  for (size_t i = 0; i < a.rejections.size(); ++i) {
    CHECK(a.rejections[i].filter == b.rejections[i].filter);
    CHECK(a.rejections[i].nodes == b.rejections[i].nodes);
    CHECK(a.rejections[i].example_node_id == b.rejections[i].example_node_id);
    CHECK(a.rejections[i].example_reason == b.rejections[i].example_reason);
  }
}

const char* const kModels[] = {"H200", "A100-80G", "L40S", "Ascend-910B"};
const double kMemory[] = {141, 80, 48, 64};

// A random pool: centers in a few regions (one in maintenance sometimes),
// GPU and CPU nodes with random free memory, some dead, draining or tainted,
// some with more than one GPU model.
Snapshot random_pool(std::mt19937_64& rng) {
  Snapshot s;
  const int centers = 2 + static_cast<int>(rng() % 5);
  const char* regions[] = {"guangdong", "beijing", "xinjiang", "shanghai"};
  for (int c = 0; c < centers; ++c) {
    const auto status = rng() % 8 == 0 ? CenterStatus::kMaintenance : CenterStatus::kActive;
    REQUIRE(s.add_center(test::center("c" + std::to_string(c), regions[rng() % 4], 5.0 + static_cast<double>(rng() % 20),
                                      0.1, status))
                .is_ok());
  }
  const int nodes = 5 + static_cast<int>(rng() % 60);
  for (int i = 0; i < nodes; ++i) {
    const std::string id = "n" + std::to_string(rng() % 100000) + "-" + std::to_string(i);
    const std::string center = "c" + std::to_string(rng() % centers);
    Node n;
    if (rng() % 5 == 0) {
      n = test::cpu_node(id, center, 8 + static_cast<int>(rng() % 64), 256, static_cast<double>(rng() % 256));
    } else {
      const int m = static_cast<int>(rng() % 4);
      n = test::gpu_node(id, center, kModels[m], 1 + static_cast<int>(rng() % 8), kMemory[m],
                         static_cast<double>(rng() % static_cast<uint64_t>(kMemory[m] + 1)),
                         static_cast<int>(rng() % 16));
      for (Gpu& g : n.gpus) g.free_bytes = std::min<uint64_t>(g.memory_bytes, (rng() % 160) * kGiB);
      if (rng() % 4 == 0) {  // a second model on the last GPU
        const int m2 = static_cast<int>(rng() % 4);
        n.gpus.back().model = kModels[m2];
        n.gpus.back().memory_bytes = static_cast<uint64_t>(kMemory[m2] * kGiB);
        n.gpus.back().free_bytes = std::min(n.gpus.back().free_bytes, n.gpus.back().memory_bytes);
      }
    }
    n.alive = rng() % 6 != 0;
    n.draining = rng() % 8 == 0;
    if (rng() % 6 == 0) n.labels["taint.gpu-test"] = rng() % 2 ? "NoSchedule" : "PreferNoSchedule";
    if (rng() % 3 == 0) n.models = {"model-a"};
    REQUIRE(s.add_node(std::move(n)).is_ok());
  }
  return s;
}

// A few request shapes, so shapes repeat and the cache is used.
ReplicaRequest random_request(std::mt19937_64& rng, int serial) {
  const double weights[] = {0.5, 4, 16, 40, 70, 120};
  const int shape = static_cast<int>(rng() % 6);
  ReplicaRequest r = test::request(weights[shape], shape % 3 == 0 ? DeviceKind::kAny : DeviceKind::kGpu,
                                   "svc-" + std::to_string(rng() % 4), "r-" + std::to_string(serial));
  if (shape == 1) r.device_models = {"L40S", "H200"};
  if (shape == 2) r.allowed_regions = {"guangdong", "beijing"};
  if (shape == 4) r.price_cap_per_hour = 3.0;
  if (shape == 5) r.tolerations = {"gpu-test"};
  r.tenant_region = rng() % 2 ? "guangdong" : "xinjiang";
  return r;
}

TEST_CASE("the verdict cache and hot fields give the exhaustive path's placements on random pools") {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Snapshot s = random_pool(rng);
    const uint32_t sample = rng() % 2 ? 0 : 1 + static_cast<uint32_t>(rng() % 6);
    Profile cached_profile = default_profile();
    cached_profile.max_feasible_nodes = sample;
    Profile exhaustive_profile = cached_profile;
    exhaustive_profile.cache_verdicts = false;
    const Framework cached = Framework::create(cached_profile).value();
    const Framework exhaustive = Framework::create(exhaustive_profile).value();
    std::vector<std::string> placed;
    for (int step = 0; step < 120; ++step) {
      CAPTURE(step);
      const ReplicaRequest r = random_request(rng, step);
      const Placement want = exhaustive.place(s, r);
      const Placement got = cached.place(s, r);
      check_same(got, want);
      // The packed hot fields plan as the node itself does.
      const Cycle cycle(s, r);
      for (const Node& node : s.nodes()) {
        const Node copy = node;  // not the snapshot's: planned from its own fields
        CHECK(plan_assignment(cycle, node, s.centers()[node.center]) ==
              plan_assignment(cycle, copy, s.centers()[node.center]));
      }
      // Change the pool between decisions: bind, release, fail, drain, revive.
      const uint64_t what = rng() % 10;
      if (got.scheduled() && what < 6) {
        REQUIRE(reserve(s, r, *got.decision).is_ok());
        placed.push_back(r.replica_id);
      } else if (what < 8 && !placed.empty()) {
        const size_t k = rng() % placed.size();
        CHECK(unreserve(s, placed[k]));
        placed.erase(placed.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        const Node& n = s.nodes()[rng() % s.nodes().size()];
        REQUIRE(s.set_node_state(n.id, rng() % 3 != 0, rng() % 4 == 0).is_ok());
      }
    }
  }
}

TEST_CASE("an unschedulable shape is answered from the cache, exactly, after changes") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "guangdong")).is_ok());
  for (int i = 0; i < 6; ++i) {
    REQUIRE(s.add_node(test::gpu_node("n" + std::to_string(i), "c1", "L40S", 2, 48, 20)).is_ok());
  }
  Profile p = default_profile();
  const Framework fw = Framework::create(p).value();
  p.cache_verdicts = false;
  const Framework ref = Framework::create(p).value();
  ReplicaRequest big = test::request(30, DeviceKind::kGpu, "svc-big", "r-1");
  const Placement first = fw.place(s, big);
  REQUIRE_FALSE(first.scheduled());
  CHECK(first.why() == "0/6 nodes available: 6 nodes: insufficient GPU memory (need 32.4 GiB, largest free 20 GiB)");
  // Another replica of the same shape after a node died: the counts move.
  REQUIRE(s.set_node_state("n2", false, false).is_ok());
  big.replica_id = "r-2";
  const Placement second = fw.place(s, big);
  check_same(second, ref.place(s, big));
  CHECK(second.why() ==
        "0/6 nodes available: 5 nodes: insufficient GPU memory (need 32.4 GiB, largest free 20 GiB); "
        "1 node: node not alive (no heartbeat within the TTL)");
  // Capacity comes back on one node: the shape places there.
  Snapshot copy = s;  // a copy has its own uid: its entries start empty
  CHECK(copy.uid() != s.uid());
  REQUIRE(s.add_node(test::gpu_node("n9", "c1", "L40S", 1, 48, 48)).is_ok());
  big.replica_id = "r-3";
  const Placement third = fw.place(s, big);
  REQUIRE(third.scheduled());
  CHECK(third.decision->node_id == "n9");
  check_same(third, ref.place(s, big));
}

TEST_CASE("shape_key ignores the replica, service, tenant region, priority and age") {
  ReplicaRequest a = test::request(8);
  ReplicaRequest b = a;
  b.replica_id = "other";
  b.service_id = "other";
  b.tenant_region = "beijing";
  b.priority = 10;
  b.created_at_ms = 99;
  CHECK(shape_key(a) == shape_key(b));
  struct Case {
    const char* what;
    void (*change)(ReplicaRequest&);
  };
  const Case cases[] = {
      {"tenant", [](ReplicaRequest& r) { r.tenant_id = "t2"; }},
      {"weights", [](ReplicaRequest& r) { r.model.weight_bytes++; }},
      {"context", [](ReplicaRequest& r) { r.model.context_tokens++; }},
      {"kind", [](ReplicaRequest& r) { r.device_kind = DeviceKind::kCpu; }},
      {"models", [](ReplicaRequest& r) { r.device_models = {"H200"}; }},
      {"regions", [](ReplicaRequest& r) { r.allowed_regions = {"beijing"}; }},
      {"price cap", [](ReplicaRequest& r) { r.price_cap_per_hour = 1.5; }},
      {"cores", [](ReplicaRequest& r) { r.cpu_cores = 3; }},
      {"host cores", [](ReplicaRequest& r) { r.gpu_host_cores = 2; }},
      {"tolerations", [](ReplicaRequest& r) { r.tolerations = {"x"}; }},
      {"list boundaries", [](ReplicaRequest& r) { r.device_models = {"H2", "00"}; }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    ReplicaRequest changed = a;
    c.change(changed);
    CHECK(shape_key(changed) != shape_key(a));
  }
}


TEST_CASE("the snapshot logs changed nodes and keeps the hot fields equal to the nodes") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "guangdong")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("a", "c1", "H200", 2, 141, 100)).is_ok());
  REQUIRE(s.add_node(test::cpu_node("b", "c1", 16, 64, 32)).is_ok());
  const uint64_t structure = s.structure_version();
  const uint64_t start = s.change_position();
  CHECK(s.changes_since(start)->second == 0);
  CHECK_FALSE(s.changes_since(start + 1));  // the future

  const ReplicaRequest r = test::request(8, DeviceKind::kGpu, "svc", "r1");
  const Placement p = place(s, r);
  REQUIRE(p.scheduled());
  REQUIRE(reserve(s, r, *p.decision).is_ok());
  REQUIRE(s.set_node_state("b", false, true).is_ok());
  auto changes = s.changes_since(start);
  REQUIRE(changes);
  std::vector<uint32_t> changed(changes->first, changes->first + changes->second);
  CHECK(changed == std::vector<uint32_t>{*s.node_index("a"), *s.node_index("b")});
  CHECK(s.structure_version() == structure);

  const NodeHot& a = s.hot()[*s.node_index("a")];
  const Node& na = *s.find_node("a");
  CHECK(a.max_free_gpu == std::max(na.gpus[0].free_bytes, na.gpus[1].free_bytes));
  CHECK(a.free_cores == na.free_cpu_cores);
  CHECK(a.replicas == 1);
  CHECK(s.gpu_hot()[a.gpu_begin + static_cast<uint32_t>(p.decision->assignment.gpu)].free_bytes ==
        na.gpus[p.decision->assignment.gpu].free_bytes);
  for (size_t k = 0; k < na.gpus.size(); ++k) CHECK(s.gpu_free()[a.gpu_begin + k] == na.gpus[k].free_bytes);
  CHECK(p.decision->node_index == *s.node_index(p.decision->node_id));
  const NodeHot& b = s.hot()[*s.node_index("b")];
  CHECK_FALSE(b.alive);
  CHECK(b.draining);
  REQUIRE(unreserve(s, "r1"));
  CHECK(s.hot()[*s.node_index("a")].max_free_gpu == 100 * kGiB);
  CHECK(s.hot()[*s.node_index("a")].replicas == 0);

  // The log is trimmed after max(4,096, 2 x nodes) entries: old positions expire.
  for (int i = 0; i < 5000; ++i) REQUIRE(s.set_node_outstanding("a", static_cast<uint32_t>(i)).is_ok());
  CHECK(s.hot()[*s.node_index("a")].outstanding == 4999);
  CHECK_FALSE(s.changes_since(start));
  REQUIRE(s.add_node(test::cpu_node("c", "c1", 4, 8, 8)).is_ok());
  CHECK(s.structure_version() > structure);
}

}  // namespace
}  // namespace scn::scheduler
