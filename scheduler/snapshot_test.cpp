#include "scheduler/snapshot.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "scheduler/test_pool.h"

namespace scn::scheduler {
namespace {

TEST_CASE("enumerations parse their stored text") {
  CHECK(parse_device_kind("GPU").value() == DeviceKind::kGpu);
  CHECK(parse_device_kind("cpu").value() == DeviceKind::kCpu);
  CHECK(parse_device_kind("").value() == DeviceKind::kAny);
  CHECK(parse_device_kind("tpu").status().message() == "device kind must be cpu, gpu or any, got 'tpu'");
  for (CenterStatus s : {CenterStatus::kActive, CenterStatus::kMaintenance, CenterStatus::kRetired}) {
    CHECK(parse_center_status(center_status_name(s)).value() == s);
  }
  CHECK_FALSE(parse_center_status("closed").is_ok());
  CHECK(fold_case("Ascend-910B") == "ascend-910b");
}

TEST_CASE("add_center and add_node reject bad input with a message") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  struct CenterCase {
    Center center;
    const char* expect;
  };
  const CenterCase centers[] = {
      {test::center("", "x"), "center id is empty"},
      {test::center("c1", "x"), "center c1 added twice"},
      {test::center("c2", "x", -1), "center c2: prices must be finite and >= 0"},
      {test::center("c3", "x", 1, NAN), "center c3: prices must be finite and >= 0"},
  };
  for (const CenterCase& c : centers) {
    CAPTURE(c.expect);
    const Status st = s.add_center(c.center);
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message() == c.expect);
  }

  REQUIRE(s.add_node(test::gpu_node("n1", "c1", "H200", 1, 141, 141)).is_ok());
  Node free_cores = test::cpu_node("n2", "c1", 8, 16, 16);
  free_cores.free_cpu_cores = 9;
  Node free_ram = test::cpu_node("n2", "c1", 8, 16, 17);
  Node gpu_free = test::gpu_node("n2", "c1", "H200", 1, 80, 81);
  Node gpu_zero = test::gpu_node("n2", "c1", "H200", 1, 0, 0);
  Node gpu_twice = test::gpu_node("n2", "c1", "H200", 2, 80, 80);
  gpu_twice.gpus[1].index = 0;
  Node gpu_unnamed = test::gpu_node("n2", "c1", "", 1, 80, 80);
  struct NodeCase {
    Node node;
    const char* expect;
  };
  const NodeCase nodes[] = {
      {test::cpu_node("", "c1", 8, 16, 16), "node id is empty"},
      {test::cpu_node("n1", "c1", 8, 16, 16), "node n1 added twice"},
      {test::cpu_node("n2", "nowhere", 8, 16, 16), "node n2: unknown center 'nowhere'"},
      {free_cores, "node n2: free CPU cores must be in 0..cores"},
      {free_ram, "node n2: free RAM exceeds RAM"},
      {gpu_free, "node n2: GPU 0 needs memory > 0 and free <= memory"},
      {gpu_zero, "node n2: GPU 0 needs memory > 0 and free <= memory"},
      {gpu_twice, "node n2: GPU index 0 twice"},
      {gpu_unnamed, "node n2: a GPU has no model name"},
  };
  for (const NodeCase& c : nodes) {
    CAPTURE(c.expect);
    const Status st = s.add_node(c.node);
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.message() == c.expect);
  }
  CHECK(s.nodes().size() == 1);
  CHECK(s.center_node_counts() == std::vector<uint32_t>{1});
  CHECK(s.add_service_replica("svc", "ghost").message() == "unknown node 'ghost'");
  CHECK(s.set_node_state("ghost", true, false).code() == Code::kNotFound);
}

TEST_CASE("names are interned case-insensitively for GPU models, exactly for model keys") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  Node a = test::gpu_node("a", "c1", "H200", 2, 141, 141);
  a.models = {"m2", "m1", "m2"};
  REQUIRE(s.add_node(a).is_ok());
  REQUIRE(s.add_node(test::gpu_node("b", "c1", "h200", 1, 141, 141)).is_ok());
  CHECK(s.gpu_model_count() == 1);
  CHECK(s.gpu_model_id("H200") == s.gpu_model_id("h200"));
  CHECK_FALSE(s.gpu_model_id("A100").has_value());
  const Node& n = *s.find_node("a");
  CHECK(n.model_ids.size() == 2);  // deduplicated
  CHECK(n.has_model(*s.model_key_id("m1")));
  CHECK_FALSE(s.model_key_id("M1").has_value());
}

TEST_CASE("reserve and unreserve: resources, idempotence, conflicts") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::gpu_node("n", "c1", "A100-80G", 2, 80, 80, 8, 64)).is_ok());
  const ReplicaRequest r = test::request(16, DeviceKind::kGpu, "svc", "r-1");
  Assignment a;
  a.kind = DeviceKind::kGpu;
  a.gpu = 1;
  a.gpu_index = 1;
  a.memory_bytes = 30 * kGiB;
  a.cpu_cores = 2;

  REQUIRE(s.reserve(r, "n", a).is_ok());
  const Node& n = *s.find_node("n");
  CHECK(n.gpus[1].free_bytes == 50 * kGiB);
  CHECK(n.gpus[0].free_bytes == 80 * kGiB);
  CHECK(n.free_cpu_cores == 6);
  CHECK(n.replicas_of(*s.service_key("svc")) == 1);
  CHECK((*s.service_center_replicas(*s.service_key("svc")))[0] == 1);

  // Same replica, same decision: nothing changes.
  REQUIRE(s.reserve(r, "n", a).is_ok());
  CHECK(n.gpus[1].free_bytes == 50 * kGiB);
  CHECK(s.reservation_count() == 1);

  // Same replica, another decision: conflict.
  Assignment other = a;
  other.gpu = 0;
  other.gpu_index = 0;
  CHECK(s.reserve(r, "n", other).code() == Code::kConflict);

  struct Case {
    const char* name;
    Assignment assignment;
    Code code;
  };
  Assignment too_big = a;
  too_big.memory_bytes = 51 * kGiB;
  Assignment too_many_cores = a;
  too_many_cores.cpu_cores = 7;
  Assignment bad_gpu = a;
  bad_gpu.gpu = 2;
  Assignment any = a;
  any.kind = DeviceKind::kAny;
  Assignment ram = a;
  ram.kind = DeviceKind::kCpu;
  ram.memory_bytes = 65 * kGiB;
  const Case cases[] = {
      {"GPU memory gone", too_big, Code::kConflict},
      {"cores gone", too_many_cores, Code::kConflict},
      {"GPU position out of range", bad_gpu, Code::kInvalidArgument},
      {"kind any", any, Code::kInvalidArgument},
      {"RAM gone", ram, Code::kConflict},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(s.reserve(test::request(1, DeviceKind::kGpu, "svc", "r-2"), "n", c.assignment).code() == c.code);
  }
  CHECK(s.reserve(test::request(1, DeviceKind::kGpu, "svc", "r-2"), "ghost", a).code() == Code::kNotFound);
  // By index: the same rules (an index past the nodes is NotFound).
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(s.reserve_at(test::request(1, DeviceKind::kGpu, "svc", "r-2"), *s.node_index("n"), c.assignment).code() ==
          c.code);
  }
  CHECK(s.reserve_at(test::request(1, DeviceKind::kGpu, "svc", "r-2"), 99, a).code() == Code::kNotFound);
  CHECK(s.reserve_at(r, *s.node_index("n"), a).is_ok());                      // same decision: no-op
  CHECK(s.reserve_at(r, *s.node_index("n"), other).code() == Code::kConflict);  // another: conflict
  CHECK(n.gpus[1].free_bytes == 50 * kGiB);  // failed reservations took nothing
  CHECK(n.free_cpu_cores == 6);
  CHECK(s.reservation_count() == 1);

  CHECK(s.unreserve("r-1"));
  CHECK_FALSE(s.unreserve("r-1"));  // idempotent
  CHECK(n.gpus[1].free_bytes == 80 * kGiB);
  CHECK(n.free_cpu_cores == 8);
  CHECK(n.replicas_of(*s.service_key("svc")) == 0);
  CHECK((*s.service_center_replicas(*s.service_key("svc")))[0] == 0);
  CHECK(s.find_reservation("r-1") == nullptr);
}

TEST_CASE("center bounds stay exact through random reservations and releases") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_center(test::center("c2", "shanghai")).is_ok());
  for (int k = 0; k < 12; ++k) {
    const std::string center = k % 2 == 0 ? "c1" : "c2";
    if (k % 3 == 0) {
      REQUIRE(s.add_node(test::cpu_node("n" + std::to_string(k), center, 16, 64, 64)).is_ok());
    } else {
      REQUIRE(s.add_node(test::gpu_node("n" + std::to_string(k), center, "H100", 2, 80, 80, 8, 64)).is_ok());
    }
  }
  auto check_bounds = [&] {
    for (uint32_t c = 0; c < 2; ++c) {
      uint64_t gpu = 0, ram = 0;
      int cores = 0;
      for (uint32_t i : s.center_members()[c]) {
        const Node& n = s.nodes()[i];
        for (const Gpu& g : n.gpus) gpu = std::max(gpu, g.free_bytes);
        ram = std::max(ram, n.free_ram_bytes);
        cores = std::max(cores, n.free_cpu_cores);
      }
      CHECK(s.center_max_free_gpu(c) == gpu);
      CHECK(s.center_max_free_ram(c) == ram);
      CHECK(s.center_max_free_cores(c) == cores);
    }
  };
  uint64_t state = 12345;
  auto next = [&state](uint32_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>((state >> 33) % n);
  };
  std::vector<std::string> held;
  for (int step = 0; step < 400; ++step) {
    if (!held.empty() && next(3) == 0) {
      const size_t at = next(static_cast<uint32_t>(held.size()));
      CHECK(s.unreserve(held[at]));
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(at));
    } else {
      const uint32_t node = next(12);
      const Node& n = s.nodes()[node];
      const std::string id = "r" + std::to_string(step);
      Assignment a;
      a.cpu_cores = 1 + static_cast<int>(next(2));
      a.memory_bytes = (1 + next(20)) * kGiB;
      if (n.gpus.empty()) {
        a.kind = DeviceKind::kCpu;
      } else {
        a.kind = DeviceKind::kGpu;
        a.gpu = static_cast<int>(next(2));
        a.gpu_index = a.gpu;
      }
      if (s.reserve(test::request(1, DeviceKind::kAny, "svc", id), n.id, a).is_ok()) held.push_back(id);
    }
    check_bounds();
  }
}

TEST_CASE("set_node_state updates liveness") {
  Snapshot s;
  REQUIRE(s.add_center(test::center("c1", "beijing")).is_ok());
  REQUIRE(s.add_node(test::cpu_node("n", "c1", 8, 16, 16)).is_ok());
  REQUIRE(s.set_node_state("n", false, true).is_ok());
  CHECK_FALSE(s.find_node("n")->alive);
  CHECK(s.find_node("n")->draining);
}

TEST_CASE("validate_request names the bad field") {
  struct Case {
    const char* expect;
    void (*mutate)(ReplicaRequest&);
  };
  const Case cases[] = {
      {"", [](ReplicaRequest&) {}},
      {"replica_id is empty", [](ReplicaRequest& r) { r.replica_id.clear(); }},
      {"service_id is empty", [](ReplicaRequest& r) { r.service_id.clear(); }},
      {"model weight_bytes is 0", [](ReplicaRequest& r) { r.model.weight_bytes = 0; }},
      {"model context_tokens is 0", [](ReplicaRequest& r) { r.model.context_tokens = 0; }},
      {"cpu_cores must be >= 1", [](ReplicaRequest& r) { r.cpu_cores = 0; }},
      {"gpu_host_cores must be >= 0", [](ReplicaRequest& r) { r.gpu_host_cores = -1; }},
      {"price cap must be a finite number >= 0", [](ReplicaRequest& r) { r.price_cap_per_hour = -1; }},
      {"price cap must be a finite number >= 0", [](ReplicaRequest& r) { r.price_cap_per_hour = INFINITY; }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expect);
    ReplicaRequest r = test::request(1);
    c.mutate(r);
    const Status st = validate_request(r);
    CHECK(st.message() == c.expect);
  }
}

}  // namespace
}  // namespace scn::scheduler
