// Capacity of a node: what the agent registers with the scheduler.
//
// Contract:
//  - probe_capacity() reads the real machine: online CPU cores (sysconf), RAM
//    (MemTotal of /proc/meminfo), the CPU model name (/proc/cpuinfo). With a
//    --simulate spec the GPUs come from the spec and the node is flagged
//    simulated; without one the GPUs are the NVIDIA GPUs the CUDA runtime
//    lists (inference/backend/gpu.h: name, memory, compute capability),
//    grouped by model and memory; gpu_probe says how they were found or why
//    there are none (a build without CUDA, no driver, no GPU).
//  - parse_simulate_spec() reads "8xH200-141G" or "4xA100-80G,2xAscend-910B-64G":
//    comma-separated `<count>x<model>-<memory>`, memory in GiB (suffix G) or
//    MiB (suffix M), the model may contain '-' (the memory is after the last
//    one). Anything else is kInvalidArgument naming the bad part. Entries of
//    the same model and memory are merged.
//  - devices() is the register body's "devices" list: one cpu row (count =
//    cores, memory = RAM, model = the CPU model name), then one gpu row per
//    model.
//  - available_ram_bytes() is MemAvailable (what the heartbeat reports free).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "inference/backend/gpu.h"

namespace scn::node_agent {

struct Device {
  std::string kind;  // "cpu" or "gpu"
  std::string model;
  std::int64_t memory_bytes = 0;  // per device
  int count = 0;
  std::string compute_capability;  // "9.0" for GPUs listed by CUDA; empty otherwise
  bool operator==(const Device&) const = default;
};

struct Capacity {
  int cpu_cores = 0;
  std::int64_t ram_bytes = 0;
  std::string cpu_model;
  std::vector<Device> gpus;
  bool simulated = false;
  std::string gpu_probe;  // "2 GPUs listed by the CUDA runtime" or why none


  std::vector<Device> devices() const;
};

Result<std::vector<Device>> parse_simulate_spec(std::string_view spec);

// GPU rows from the CUDA runtime's list: one per (name, memory, compute
// capability), in order of first appearance, counting the GPUs of each.
std::vector<Device> group_gpus(const std::vector<inference::GpuInfo>& gpus);

// `simulate_spec` empty: the real machine only.
Result<Capacity> probe_capacity(std::string_view simulate_spec);

// Parsers of the /proc files (exposed for tests).
// The value of `key` ("MemTotal") in /proc/meminfo text, in bytes; -1 when absent.
std::int64_t parse_meminfo_bytes(std::string_view meminfo, std::string_view key);
// The first "model name" of /proc/cpuinfo text ("" when absent).
std::string parse_cpu_model(std::string_view cpuinfo);

std::int64_t available_ram_bytes();

}  // namespace scn::node_agent
