#include "node-agent/capacity.h"

#include <doctest/doctest.h>

namespace scn::node_agent {
namespace {

constexpr std::int64_t kGiB = std::int64_t{1} << 30;
constexpr std::int64_t kMiB = std::int64_t{1} << 20;

TEST_CASE("parse_simulate_spec: good specs") {
  struct Case {
    std::string spec;
    std::vector<Device> want;
  };
  const Case cases[] = {
      {"8xH200-141G", {{"gpu", "H200", 141 * kGiB, 8}}},
      {"4xA100-80G,2xAscend-910B-64G",
       {{"gpu", "A100", 80 * kGiB, 4}, {"gpu", "Ascend-910B", 64 * kGiB, 2}}},
      {"1xT4-512M", {{"gpu", "T4", 512 * kMiB, 1}}},
      {" 2xL40S-48G , 1xL40S-48G", {{"gpu", "L40S", 48 * kGiB, 3}}},  // merged, trimmed
      {"16xMI300X-192G", {{"gpu", "MI300X", 192 * kGiB, 16}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.spec);
    auto r = parse_simulate_spec(c.spec);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r.value() == c.want);
  }
  CHECK(parse_simulate_spec("8xH200-141G").value()[0].memory_bytes == 151397597184);
}

TEST_CASE("parse_simulate_spec: bad specs name the problem") {
  struct Case {
    std::string spec;
    std::string message_part;
  };
  const Case cases[] = {
      {"", "empty spec"},
      {"H200-141G", "no 'x'"},
      {"0xH200-141G", "positive integer"},
      {"-1xH200-141G", "positive integer"},
      {"axH200-141G", "positive integer"},
      {"8xH200", "no '-<memory>'"},
      {"8x-141G", "empty model"},
      {"8xH200-141", "G (GiB) or M"},
      {"8xH200-141T", "G (GiB) or M"},
      {"8xH200-G", "needs a number"},
      {"8xH200-xG", "positive integer followed"},
      {"8xH200-0G", "positive integer followed"},
      {"8xH200-141G,", "empty entry"},
      {"8xH2 00-141G", "letters, digits"},
      {"5000xH200-141G", "more than 1024"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.spec);
    auto r = parse_simulate_spec(c.spec);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(c.message_part) != std::string::npos,
                  r.status().message());
  }
}

TEST_CASE("/proc parsers") {
  const std::string meminfo =
      "MemTotal:       32795300 kB\nMemFree:         1234 kB\nMemAvailable:   20000000 kB\n"
      "HugePages_Total:       0\n";
  CHECK(parse_meminfo_bytes(meminfo, "MemTotal") == 32795300LL * 1024);
  CHECK(parse_meminfo_bytes(meminfo, "MemAvailable") == 20000000LL * 1024);
  CHECK(parse_meminfo_bytes(meminfo, "HugePages_Total") == 0);
  CHECK(parse_meminfo_bytes(meminfo, "Mem") == -1);
  CHECK(parse_meminfo_bytes("MemTotal: lots kB\n", "MemTotal") == -1);
  const std::string cpuinfo =
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6448Y\n"
      "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6448Y\n";
  CHECK(parse_cpu_model(cpuinfo) == "Intel(R) Xeon(R) Gold 6448Y");
  CHECK(parse_cpu_model("processor: 0\n") == "");
}

TEST_CASE("probe_capacity: the real machine, plus simulated GPUs") {
  auto real = probe_capacity("");
  REQUIRE(real.is_ok());
  CHECK(real->cpu_cores >= 1);
  CHECK(real->ram_bytes > 64 * kMiB);
  CHECK_FALSE(real->simulated);
  CHECK_FALSE(real->gpu_probe.empty());
  // The GPUs are those CUDA lists (none on a machine without a GPU or driver,
  // or in a build without CUDA: then gpu_probe says why).
  auto listed = inference::list_gpus();
  CHECK(real->gpus == (listed.is_ok() ? group_gpus(*listed) : std::vector<Device>{}));
  if (!listed.is_ok()) CHECK(real->gpu_probe.find(listed.status().message()) != std::string::npos);
  auto devices = real->devices();
  REQUIRE(devices.size() == 1 + real->gpus.size());
  CHECK(devices[0].kind == "cpu");
  CHECK(devices[0].count == real->cpu_cores);
  CHECK(devices[0].memory_bytes == real->ram_bytes);
  CHECK(available_ram_bytes() > 0);
  CHECK(available_ram_bytes() <= real->ram_bytes);

  auto sim = probe_capacity("4xA100-80G,2xAscend-910B-64G");
  REQUIRE(sim.is_ok());
  CHECK(sim->simulated);
  auto sd = sim->devices();
  REQUIRE(sd.size() == 3);
  CHECK(sd[1] == Device{"gpu", "A100", 80 * kGiB, 4});
  CHECK(sd[2] == Device{"gpu", "Ascend-910B", 64 * kGiB, 2});

  CHECK(probe_capacity("8xH200").status().code() == Code::kInvalidArgument);
}

TEST_CASE("group_gpus: one row per model, memory and compute capability") {
  using inference::GpuInfo;
  const uint64_t h200 = 150754820096, a100 = 85899345920;
  std::vector<GpuInfo> gpus = {
      {0, "NVIDIA H200", h200, h200, 9, 0, "0000:19:00.0"},
      {1, "NVIDIA A100-SXM4-80GB", a100, a100, 8, 0, "0000:3b:00.0"},
      {2, "NVIDIA H200", h200, 1000, 9, 0, "0000:4c:00.0"},  // free memory does not split
  };
  auto rows = group_gpus(gpus);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == Device{"gpu", "NVIDIA H200", static_cast<std::int64_t>(h200), 2, "9.0"});
  CHECK(rows[1] == Device{"gpu", "NVIDIA A100-SXM4-80GB", static_cast<std::int64_t>(a100), 1, "8.0"});
  CHECK(group_gpus({}).empty());
}

}  // namespace
}  // namespace scn::node_agent
