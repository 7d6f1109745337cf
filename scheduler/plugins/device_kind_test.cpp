#include "scheduler/plugins/device_kind.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("device_kind: cpu/gpu/any and the allowed GPU models") {
  struct Case {
    const char* node;  // "gpu" (2x A100-80G) or "cpu"
    DeviceKind kind;
    std::vector<std::string> models;
    bool pass;
    const char* reason;
  };
  const Case cases[] = {
      {"gpu", DeviceKind::kGpu, {}, true, ""},
      {"gpu", DeviceKind::kGpu, {"A100-80G"}, true, ""},
      {"gpu", DeviceKind::kGpu, {"a100-80g"}, true, ""},  // case-insensitive
      {"gpu", DeviceKind::kGpu, {"H200", "A100-80G"}, true, ""},
      {"gpu", DeviceKind::kGpu, {"H200"}, false, "GPU model not allowed (node has A100-80G; allowed: H200)"},
      {"gpu", DeviceKind::kGpu, {"Ascend-910B", "H200"}, false,
       "GPU model not allowed (node has A100-80G; allowed: Ascend-910B, H200)"},
      {"gpu", DeviceKind::kCpu, {}, true, ""},
      {"gpu", DeviceKind::kAny, {"H200"}, true, ""},  // may fall back to RAM
      {"cpu", DeviceKind::kGpu, {}, false, "no GPU (the service wants a GPU)"},
      {"cpu", DeviceKind::kGpu, {"H200"}, false, "no GPU (the service wants a GPU)"},
      {"cpu", DeviceKind::kCpu, {}, true, ""},
      {"cpu", DeviceKind::kAny, {}, true, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.node);
    CAPTURE(device_kind_name(c.kind));
    CAPTURE(c.models.size());
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    REQUIRE(s.add_node(test::gpu_node("gpu", "c1", "A100-80G", 2, 80, 80)).is_ok());
    REQUIRE(s.add_node(test::cpu_node("cpu", "c1", 64, 256, 256)).is_ok());
    ReplicaRequest r = test::request(1, c.kind);
    r.device_models = c.models;
    const auto v = test::run_filter(DeviceKindFilter(), s, r, c.node);
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

TEST_CASE("device_kind: a node with mixed GPU models passes when one is allowed") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  Node n = test::gpu_node("n", "c1", "L40S", 1, 48, 48);
  n.gpus.push_back({.free_bytes = 141 * kGiB, .memory_bytes = 141 * kGiB, .index = 1, .device_id = 101, .model = "H200"});
  REQUIRE(s.add_node(n).is_ok());
  ReplicaRequest r = test::request(1);
  r.device_models = {"H200"};
  CHECK(test::run_filter(DeviceKindFilter(), s, r, "n").pass);
  r.device_models = {"A100-80G"};
  CHECK(test::run_filter(DeviceKindFilter(), s, r, "n").reason ==
        "GPU model not allowed (node has H200, L40S; allowed: A100-80G)");
}

}  // namespace
}  // namespace scn::scheduler
