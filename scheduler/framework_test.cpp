#include "scheduler/framework.h"

#include <set>

#include <doctest/doctest.h>

#include "scheduler/plugins/registry.h"
#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

Framework framework_with(std::vector<std::string> filters, std::vector<std::pair<std::string, double>> scores,
                         uint32_t max_feasible = 0) {
  return Framework::create(make_profile(filters, scores, max_feasible).value()).value();
}

TEST_CASE("why pending: per filter, how many nodes and an example reason") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "guangdong")).is_ok());
  REQUIRE(s.add_center(test::center("c2", "xinjiang")).is_ok());
  for (const char* id : {"n3", "n1", "n2"}) {
    REQUIRE(s.add_node(test::gpu_node(id, "c1", "A100-80G", 2, 80, 16)).is_ok());
  }
  for (const char* id : {"n5", "n4"}) REQUIRE(s.add_node(test::gpu_node(id, "c2", "H200", 8, 141, 141)).is_ok());
  Node dead = test::gpu_node("n0", "c1", "H200", 8, 141, 141);
  dead.alive = false;
  REQUIRE(s.add_node(dead).is_ok());

  ReplicaRequest r = test::request(16);
  r.allowed_regions = {"guangdong"};
  const Placement p = place(s, r);
  REQUIRE_FALSE(p.scheduled());
  CHECK(p.nodes_total == 6);
  CHECK(p.nodes_evaluated == 6);
  CHECK(p.nodes_feasible == 0);
  struct Expect {
    const char* filter;
    uint32_t nodes;
    const char* example;
    const char* reason;
  };
  const Expect expect[] = {
      {"fits", 3, "n1", "insufficient GPU memory (need 17.5 GiB, largest free 16 GiB)"},
      {"allowed_regions", 2, "n4", "region xinjiang not allowed (allowed: guangdong)"},
      {"node_alive", 1, "n0", "node not alive (no heartbeat within the TTL)"},
  };
  REQUIRE(p.rejections.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(p.rejections[i].filter == expect[i].filter);
    CHECK(p.rejections[i].nodes == expect[i].nodes);
    CHECK(p.rejections[i].example_node_id == expect[i].example);
    CHECK(p.rejections[i].example_reason == expect[i].reason);
  }
  CHECK(p.why() ==
        "0/6 nodes available: 3 nodes: insufficient GPU memory (need 17.5 GiB, largest free 16 GiB); "
        "2 nodes: region xinjiang not allowed (allowed: guangdong); "
        "1 node: node not alive (no heartbeat within the TTL)");
}

TEST_CASE("center-level verdicts claim every node of the center before node-level filters") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_center(test::center("c2", "shanghai", 10, 0.1, CenterStatus::kMaintenance)).is_ok());
  Node dead = test::gpu_node("a", "c2", "H200", 1, 141, 141);
  dead.alive = false;
  REQUIRE(s.add_node(dead).is_ok());
  REQUIRE(s.add_node(test::gpu_node("b", "c2", "H200", 1, 141, 141)).is_ok());
  REQUIRE(s.add_node(test::gpu_node("c", "c1", "H200", 1, 141, 141)).is_ok());
  ReplicaRequest r = test::request(1);
  r.allowed_regions = {"shanghai"};
  const Placement p = place(s, r);
  REQUIRE(p.rejections.size() == 2);
  CHECK(p.rejections[0].filter == "node_alive");  // both c2 nodes, the center is in maintenance
  CHECK(p.rejections[0].nodes == 2);
  CHECK(p.rejections[0].example_reason == "center c2 is maintenance");
  CHECK(p.rejections[1].filter == "allowed_regions");
  CHECK(p.rejections[1].nodes == 1);
}

TEST_CASE("why here: the winner's score per plugin") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing", 16)).is_ok());
  REQUIRE(s.add_center(test::center("c2", "shanghai", 32)).is_ok());
  Node a = test::gpu_node("a", "c1", "A100-80G", 1, 80, 80);
  a.models = {"model-a"};
  REQUIRE(s.add_node(a).is_ok());
  REQUIRE(s.add_node(test::gpu_node("b", "c2", "A100-80G", 1, 80, 80)).is_ok());
  const Placement p = place(s, test::request(16));
  REQUIRE(p.scheduled());
  const Decision& d = *p.decision;
  CHECK(d.node_id == "a");
  CHECK(d.center_id == "c1");
  CHECK(d.assignment.kind == DeviceKind::kGpu);
  CHECK(d.assignment.memory_bytes == 17 * kGiB + 512 * kMiB);
  struct Line {
    const char* plugin;
    double score;
    double weight;
  };
  const Line lines[] = {{"spread", 100, 8},
                        {"bin_packing", 21.875, 2},
                        {"model_present", 100, 2},
                        {"price", 100, 1},
                        {"latency", 100, 2}};  // no tenant region: neutral
  REQUIRE(d.scores.size() == 5);
  double total = 0;
  for (size_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(d.scores[i].plugin == lines[i].plugin);
    CHECK(d.scores[i].score == doctest::Approx(lines[i].score));
    CHECK(d.scores[i].weight == lines[i].weight);
    total += lines[i].score * lines[i].weight;
  }
  CHECK(d.total == doctest::Approx(total));
  CHECK(d.scores[3].raw == doctest::Approx(100.0 / (1 + 16 * 17.5 / 80)));  // before normalising
  CHECK(p.rejections.empty());
  CHECK(p.why() ==
        "node a in center c1 (GPU 0, 17.5 GiB): score 1343.8 = spread 100 x8 + bin_packing 21.9 x2 + "
        "model_present 100 x2 + price 100 x1 + latency 100 x2; 2 of 2 nodes feasible");
}

TEST_CASE("each score decides when the others tie") {
  struct Case {
    const char* name;
    const char* score;
    Node a;  // center c1 (price 10)
    Node b;  // center c2 (price from the case)
    double c2_gpu_hour;
    const char* winner;
  };
  Node cached = test::gpu_node("b", "c2", "H200", 1, 141, 141);
  cached.models = {"model-a"};
  const Case cases[] = {
      {"tighter GPU", "bin_packing", test::gpu_node("a", "c1", "H200", 1, 141, 141),
       test::gpu_node("b", "c2", "H200", 1, 141, 20), 10, "b"},
      {"cheaper center", "price", test::gpu_node("a", "c1", "H200", 1, 141, 141),
       test::gpu_node("b", "c2", "H200", 1, 141, 141), 5, "b"},
      {"dearer center", "price", test::gpu_node("a", "c1", "H200", 1, 141, 141),
       test::gpu_node("b", "c2", "H200", 1, 141, 141), 20, "a"},
      {"weights cached", "model_present", test::gpu_node("a", "c1", "H200", 1, 141, 141), cached, 10, "b"},
      {"all equal: the smaller id", "price", test::gpu_node("a", "c1", "H200", 1, 141, 141),
       test::gpu_node("b", "c2", "H200", 1, 141, 141), 10, "a"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing", 10)).is_ok());
    REQUIRE(s.add_center(test::center("c2", "shanghai", c.c2_gpu_hour)).is_ok());
    REQUIRE(s.add_node(c.b).is_ok());  // b first: the id, not the order, breaks ties
    REQUIRE(s.add_node(c.a).is_ok());
    const Placement p = framework_with({"fits"}, {{c.score, 1}}).place(s, test::request(4));
    REQUIRE(p.scheduled());
    CHECK(p.decision->node_id == c.winner);
    CHECK(place(s, test::request(4)).decision->node_id == c.winner);  // and with the default profile
  }
}

TEST_CASE("a cycle: reserve makes the next decision see the last") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_center(test::center("c2", "shanghai")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("a", "c1", "A100-80G", 1, 80, 80)).is_ok());
  REQUIRE(s.add_node(test::gpu_node("b", "c1", "A100-80G", 1, 80, 80)).is_ok());
  REQUIRE(s.add_node(test::gpu_node("c", "c2", "A100-80G", 1, 80, 80)).is_ok());

  // Spread: one service's replicas go to a, then the other center, then b.
  const char* expect[] = {"a", "c", "b"};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const ReplicaRequest r = test::request(8, DeviceKind::kGpu, "svc", "r-" + std::to_string(i));
    const Placement p = place(s, r);
    REQUIRE(p.scheduled());
    CHECK(p.decision->node_id == expect[i]);
    REQUIRE(reserve(s, r, *p.decision).is_ok());
    REQUIRE(reserve(s, r, *p.decision).is_ok());  // idempotent
  }
  CHECK(s.reservation_count() == 3);

  // Fill every GPU (80 GiB each, 17.5 GiB per replica of 16 GiB weights): 4 each.
  int placed = 0;
  Placement last;
  for (int i = 0; i < 20; ++i) {
    const ReplicaRequest r = test::request(16, DeviceKind::kGpu, "big-" + std::to_string(i), "big-" + std::to_string(i));
    last = place(s, r);
    if (!last.scheduled()) break;
    REQUIRE(reserve(s, r, *last.decision).is_ok());
    ++placed;
  }
  // 80 - 9 (8 GiB weights + overhead) = 71 free: 4 x 17.5 = 70 fit on each.
  CHECK(placed == 12);
  REQUIRE_FALSE(last.scheduled());
  CHECK(last.why() == "0/3 nodes available: 3 nodes: insufficient GPU memory (need 17.5 GiB, largest free 1 GiB)");

  CHECK(unreserve(s, "big-0"));
  CHECK_FALSE(unreserve(s, "big-0"));
  const Placement again = place(s, test::request(16, DeviceKind::kGpu, "late", "late"));
  REQUIRE(again.scheduled());
}

TEST_CASE("placement is deterministic and pure") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  for (int i = 0; i < 20; ++i) {
    REQUIRE(s.add_node(test::gpu_node("n" + std::to_string(i), "c1", "H200", 2, 141, 50 + i % 7)).is_ok());
  }
  const ReplicaRequest r = test::request(16);
  const Placement first = place(s, r);
  for (int k = 0; k < 3; ++k) {
    const Placement p = place(s, r);
    REQUIRE(p.scheduled());
    CHECK(p.decision->node_id == first.decision->node_id);
    CHECK(p.decision->assignment == first.decision->assignment);
    CHECK(p.why() == first.why());
  }
  CHECK(s.reservation_count() == 0);

  // A node added later with a smaller id wins the tie from then on.
  Snapshot t;
  REQUIRE(t.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(t.add_node(test::gpu_node("m", "c1", "H200", 1, 141, 141)).is_ok());
  CHECK(place(t, r).decision->node_id == "m");
  REQUIRE(t.add_node(test::gpu_node("k", "c1", "H200", 1, 141, 141)).is_ok());
  CHECK(place(t, r).decision->node_id == "k");
  REQUIRE(t.add_node(test::gpu_node("z", "c1", "H200", 1, 141, 141)).is_ok());
  CHECK(place(t, r).decision->node_id == "k");
}

TEST_CASE("invalid requests and empty pools are unschedulable, with the reason") {
  Snapshot empty;
  CHECK(place(empty, test::request(1)).why() == "0/0 nodes available: the pool has no nodes");
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("a", "c1", "H200", 1, 141, 141)).is_ok());
  ReplicaRequest r = test::request(1);
  r.model.context_tokens = 0;
  const Placement p = place(s, r);
  CHECK_FALSE(p.scheduled());
  CHECK(p.rejections.empty());
  CHECK(p.why() == "invalid request: model context_tokens is 0");
}

TEST_CASE("the fit rule holds even in a profile without the fits plugin") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::cpu_node("a", "c1", 8, 16, 4)).is_ok());
  const Placement p = framework_with({"node_alive"}, {}).place(s, test::request(8, DeviceKind::kCpu));
  REQUIRE_FALSE(p.scheduled());
  REQUIRE(p.rejections.size() == 1);
  CHECK(p.rejections[0].filter == "fits");
  CHECK(p.rejections[0].example_reason == "insufficient RAM (need 8.6 GiB, free 4 GiB)");
}

TEST_CASE("max_feasible_nodes stops the scan early, deterministically") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  for (int i = 0; i < 100; ++i) {
    // Nodes 100..194 are full; 195..199 have room.
    const double free = i < 95 ? 1 : 141;
    REQUIRE(s.add_node(test::gpu_node("n" + std::to_string(100 + i), "c1", "H200", 1, 141, free)).is_ok());
  }
  const Framework sampled = framework_with({"node_alive", "fits"}, {{"bin_packing", 1}}, 3);
  const Framework full = framework_with({"node_alive", "fits"}, {{"bin_packing", 1}});

  const Placement all = full.place(s, test::request(16));
  CHECK(all.nodes_evaluated == 100);
  CHECK(all.nodes_feasible == 5);

  const Placement p = sampled.place(s, test::request(16));
  REQUIRE(p.scheduled());
  CHECK(p.nodes_feasible == 3);
  CHECK(p.nodes_evaluated < 100);
  CHECK(p.why().find("3 of 100 nodes feasible (" + std::to_string(p.nodes_evaluated) + " evaluated)") !=
        std::string::npos);
  CHECK(sampled.place(s, test::request(16)).decision->node_id == p.decision->node_id);

  // Different replicas start the scan at different nodes.
  Snapshot open;
  REQUIRE(open.add_center(test::center("c1", "beijing")).is_ok());
  for (int i = 0; i < 100; ++i) {
    REQUIRE(open.add_node(test::gpu_node("n" + std::to_string(100 + i), "c1", "H200", 1, 141, 141)).is_ok());
  }
  std::set<std::string> chosen;
  for (int i = 0; i < 20; ++i) {
    const Placement q = sampled.place(open, test::request(16, DeviceKind::kGpu, "svc", "r-" + std::to_string(i)));
    REQUIRE(q.scheduled());
    chosen.insert(q.decision->node_id);
  }
  CHECK(chosen.size() > 1);

  // Unschedulable: every node was looked at, so the explanation is complete.
  const Placement none = sampled.place(s, test::request(200));
  CHECK(none.nodes_evaluated == 100);
  CHECK(none.rejections[0].nodes == 100);
}

TEST_CASE("Framework::create rejects a null plugin") {
  Profile p;
  p.filters.push_back(nullptr);
  CHECK(Framework::create(p).status().message() == "profile has a null filter plugin");
  Profile q;
  q.scores.push_back({nullptr, 1});
  CHECK(Framework::create(q).status().message() == "profile has a null score plugin");
}

}  // namespace
}  // namespace scn::scheduler
