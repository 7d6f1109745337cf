#include "scheduler/plugins/fits.h"

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

// Weights 16 GiB, no KV: need(gpu) = 16 + 1 + 0.5 = 17.5 GiB; need(cpu) = 17 GiB + 64 MiB.
TEST_CASE("fits: one GPU's free memory, or RAM, covers weights + KV + overhead") {
  struct Case {
    const char* name;
    Node node;
    DeviceKind kind;
    bool pass;
    const char* reason;
  };
  Node cores_gone = test::gpu_node("n", "c1", "H200", 1, 141, 141);
  cores_gone.free_cpu_cores = 0;
  Node split = test::gpu_node("n", "c1", "A100-80G", 2, 80, 10);  // 20 GiB free, never on one GPU
  const Case cases[] = {
      {"empty GPU", test::gpu_node("n", "c1", "H200", 1, 141, 141), DeviceKind::kGpu, true, ""},
      {"exactly enough", test::gpu_node("n", "c1", "L40S", 1, 48, 17.5), DeviceKind::kGpu, true, ""},
      {"16 GiB free", test::gpu_node("n", "c1", "A100-80G", 4, 80, 16), DeviceKind::kGpu, false,
       "insufficient GPU memory (need 17.5 GiB, largest free 16 GiB)"},
      {"free memory split over GPUs", split, DeviceKind::kGpu, false,
       "insufficient GPU memory (need 17.5 GiB, largest free 10 GiB)"},
      {"GPU smaller than the model", test::gpu_node("n", "c1", "T4", 2, 16, 16), DeviceKind::kGpu, false,
       "model needs 17.5 GiB, more than the largest GPU (16 GiB): needs 2 GPUs; multi-GPU replicas are not "
       "supported by the engine yet"},
      {"no host core left", cores_gone, DeviceKind::kGpu, false,
       "insufficient CPU cores for a GPU replica (need 1, free 0)"},
      {"cpu replica in RAM", test::cpu_node("n", "c1", 64, 256, 18), DeviceKind::kCpu, true, ""},
      {"RAM short", test::cpu_node("n", "c1", 64, 256, 17), DeviceKind::kCpu, false,
       "insufficient RAM (need 17.1 GiB, free 17 GiB)"},
      {"any falls back to RAM", test::gpu_node("n", "c1", "L40S", 1, 48, 4, 32, 64), DeviceKind::kAny, true, ""},
      {"any: neither", test::gpu_node("n", "c1", "L40S", 1, 48, 4, 32, 8), DeviceKind::kAny, false,
       "insufficient GPU memory (need 17.5 GiB, largest free 4 GiB); and on the CPU: "
       "insufficient RAM (need 17.1 GiB, free 8 GiB)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    REQUIRE(s.add_node(c.node).is_ok());
    const auto v = test::run_filter(FitsFilter(), s, test::request(16, c.kind), "n");
    CHECK(v.pass == c.pass);
    CHECK(v.reason == c.reason);
  }
}

TEST_CASE("fits: a model larger than one GPU needs several; the engine runs a replica on one") {
  struct Case {
    double weights_gib;
    const char* model;
    double gpu_gib;
    const char* reason;
  };
  const Case cases[] = {
      {70, "L40S", 48,
       "model needs 74.9 GiB, more than the largest GPU (48 GiB): needs 2 GPUs; multi-GPU replicas are not "
       "supported by the engine yet"},
      {140, "A100-80G", 80,
       "model needs 149.3 GiB, more than the largest GPU (80 GiB): needs 2 GPUs; multi-GPU replicas are not "
       "supported by the engine yet"},
      {140, "L40S", 48,
       "model needs 149.3 GiB, more than the largest GPU (48 GiB): needs 4 GPUs; multi-GPU replicas are not "
       "supported by the engine yet"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.reason);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
    REQUIRE(s.add_node(test::gpu_node("n", "c1", c.model, 8, c.gpu_gib, c.gpu_gib)).is_ok());
    const auto v = test::run_filter(FitsFilter(), s, test::request(c.weights_gib), "n");
    CHECK_FALSE(v.pass);
    CHECK(v.reason == c.reason);
  }
}

TEST_CASE("fits: the KV budget for the context counts") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("n", "c1", "L40S", 1, 48, 20)).is_ok());
  ReplicaRequest r = test::request(16);
  r.model.kv_bytes_per_token = 256 * 1024;  // 1 GiB per 4096 tokens
  r.model.context_tokens = 4096 * 2;        // need 17.5 + 2 = 19.5 GiB
  CHECK(test::run_filter(FitsFilter(), s, r, "n").pass);
  r.model.context_tokens = 4096 * 3;  // 20.5 GiB
  CHECK(test::run_filter(FitsFilter(), s, r, "n").reason ==
        "insufficient GPU memory (need 20.5 GiB, largest free 20 GiB)");
}

}  // namespace
}  // namespace scn::scheduler
