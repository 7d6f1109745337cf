#include "scheduler/assignment.h"

#include <limits>

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("replica_memory_bytes: weights + KV x context + overhead") {
  struct Case {
    uint64_t weights;
    uint64_t kv_per_token;
    uint32_t context;
    DeviceKind kind;
    uint64_t expect;
  };
  const Case cases[] = {
      {16 * kGiB, 0, 4096, DeviceKind::kGpu, 17 * kGiB + 512 * kMiB},
      {16 * kGiB, 0, 4096, DeviceKind::kAny, 17 * kGiB + 512 * kMiB},
      {16 * kGiB, 0, 4096, DeviceKind::kCpu, 17 * kGiB + 64 * kMiB},
      // Llama 3.1 8B Q4_K_M at 8192 tokens: 32 layers x 8 KV heads x 128 x 2 x 2 B = 128 KiB/token.
      {4'920'000'000ull, 131072, 8192, DeviceKind::kGpu,
       4'920'000'000ull + 1 * kGiB + 512 * kMiB + 4'920'000'000ull / 16},
      {1024, 0, 1, DeviceKind::kCpu, 1024 + 64 * kMiB + 64},
      // Saturates instead of wrapping.
      {std::numeric_limits<uint64_t>::max() - 1, 1, 1, DeviceKind::kGpu, std::numeric_limits<uint64_t>::max()},
      {1, std::numeric_limits<uint64_t>::max(), 2, DeviceKind::kGpu, std::numeric_limits<uint64_t>::max()},
  };
  for (const Case& c : cases) {
    CAPTURE(c.weights);
    ModelRequirements m{"k", c.weights, c.kv_per_token, c.context};
    CHECK(replica_memory_bytes(m, c.kind) == c.expect);
  }
}

TEST_CASE("plan_assignment: best-fit GPU, CPU fallback for any, prices") {
  // need(gpu) = 17.5 GiB, need(cpu) = 17 GiB + 64 MiB for 16 GiB of weights.
  struct Case {
    const char* name;
    std::vector<double> gpu_free;  // GiB free on each 80 GiB GPU
    std::vector<std::string> allowed;
    DeviceKind kind;
    double free_ram;
    int gpu;  // expected position; -1 = CPU; -2 = nothing fits
  };
  const Case cases[] = {
      {"the tightest GPU that fits", {80, 20, 18, 10}, {}, DeviceKind::kGpu, 64, 2},
      {"ties go to the lower position", {30, 30}, {}, DeviceKind::kGpu, 64, 0},
      {"none fits", {17, 10}, {}, DeviceKind::kGpu, 64, -2},
      {"any prefers a GPU", {80}, {}, DeviceKind::kAny, 64, 0},
      {"any falls back to RAM", {10}, {}, DeviceKind::kAny, 64, -1},
      {"cpu ignores GPUs", {80}, {}, DeviceKind::kCpu, 64, -1},
      {"cpu without RAM", {80}, {}, DeviceKind::kCpu, 16, -2},
      {"model not allowed", {80}, {"H200"}, DeviceKind::kGpu, 64, -2},
      {"model allowed", {80}, {"a100-80g"}, DeviceKind::kGpu, 64, 0},
      {"any with a disallowed GPU uses RAM", {80}, {"H200"}, DeviceKind::kAny, 64, -1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Snapshot s;
    REQUIRE(s.add_center(test::center("c1", "beijing", 16, 0.5)).is_ok());
    Node n = test::gpu_node("n", "c1", "A100-80G", static_cast<int>(c.gpu_free.size()), 80, 0, 32, 64);
    for (size_t i = 0; i < c.gpu_free.size(); ++i) n.gpus[i].free_bytes = static_cast<uint64_t>(c.gpu_free[i] * kGiB);
    n.free_ram_bytes = static_cast<uint64_t>(c.free_ram * kGiB);
    n.cpu_device_id = 9;
    REQUIRE(s.add_node(n).is_ok());
    ReplicaRequest r = test::request(16, c.kind);
    r.device_models = c.allowed;
    r.cpu_cores = 4;
    r.gpu_host_cores = 2;
    const Cycle cycle(s, r);
    const auto a = plan_assignment(cycle, s.nodes()[0], s.centers()[0]);
    if (c.gpu == -2) {
      CHECK_FALSE(a.has_value());
      continue;
    }
    REQUIRE(a.has_value());
    if (c.gpu == -1) {
      CHECK(a->kind == DeviceKind::kCpu);
      CHECK(a->memory_bytes == 17 * kGiB + 64 * kMiB);
      CHECK(a->cpu_cores == 4);
      CHECK(a->device_id == 9);
      CHECK(a->price_per_hour == doctest::Approx(2.0));  // 4 cores x 0.5
    } else {
      CHECK(a->kind == DeviceKind::kGpu);
      CHECK(a->gpu == c.gpu);
      CHECK(a->gpu_index == c.gpu);
      CHECK(a->device_id == 100 + c.gpu);
      CHECK(a->memory_bytes == 17 * kGiB + 512 * kMiB);
      CHECK(a->cpu_cores == 2);
      CHECK(a->price_per_hour == doctest::Approx(16 * 17.5 / 80));  // share of the GPU-hour
    }
  }
}

TEST_CASE("format_bytes and format_number") {
  struct Case {
    uint64_t bytes;
    bool round_up;
    const char* expect;
  };
  const Case cases[] = {
      {0, false, "0 B"},
      {1023, false, "1023 B"},
      {1024, false, "1 KiB"},
      {512 * kMiB, false, "512 MiB"},
      {16 * kGiB, false, "16 GiB"},
      {16 * kGiB - 1, false, "15.9 GiB"},
      {16 * kGiB + 1, true, "16.1 GiB"},
      {17 * kGiB + 200 * kMiB, false, "17.1 GiB"},
      {17 * kGiB + 200 * kMiB, true, "17.2 GiB"},
      {141'000'000'000ull, false, "131.3 GiB"},
      {uint64_t{3} << 40, false, "3 TiB"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.bytes);
    CHECK(format_bytes(c.bytes, c.round_up) == c.expect);
  }
  CHECK(format_number(12.5) == "12.5");
  CHECK(format_number(3.0) == "3");
  CHECK(format_number(0.125, 2) == "0.12");
  CHECK(format_number(-0.0001) == "0");
}

}  // namespace
}  // namespace scn::scheduler
