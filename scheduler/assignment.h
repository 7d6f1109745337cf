// The fit rule: how much memory a replica needs and which device of a node it
// takes.
//
// Contract (the rule, stated once; the `fits` filter and reserve() apply it):
//  - need(kind) = weight_bytes + kv_bytes_per_token x context_tokens + overhead
//      overhead(gpu) = 512 MiB + weight_bytes / 16   (CUDA context, compute buffers)
//      overhead(cpu) =  64 MiB + weight_bytes / 16   (compute buffers, runtime)
//    computed with saturation (a huge request never wraps around).
//  - A GPU replica runs on exactly one GPU (no spanning: the engine has no
//    tensor parallelism yet; a larger model is unschedulable on the node
//    with the reason "needs N GPUs; multi-GPU replicas are not supported by
//    the engine yet") and reserves need(gpu)
//    bytes of that GPU's memory plus request.gpu_host_cores host cores; GPUs
//    are shared by replicas while memory lasts. Among the node's GPUs whose
//    model is allowed and whose free memory >= need(gpu), it takes the one
//    with the least free memory (best fit), ties to the lower position.
//  - A CPU replica reserves need(cpu) bytes of RAM and request.cpu_cores cores.
//  - device kind gpu: GPU only; cpu: RAM only; any: a GPU when one fits, else RAM.
//  - The price of an assignment per hour: a GPU replica pays the GPU-hour price
//    times its share of the GPU's memory (reserved / GPU memory); a CPU replica
//    pays the core-hour price times its cores.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "scheduler/plugin.h"
#include "scheduler/snapshot.h"

namespace scn::scheduler {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;
inline constexpr uint64_t kGpuOverheadBytes = 512 * kMiB;
inline constexpr uint64_t kCpuOverheadBytes = 64 * kMiB;

// need(kind) above; kind kAny is treated as kGpu.
uint64_t replica_memory_bytes(const ModelRequirements& model, DeviceKind kind);

// The device the replica would take on the node, or nullopt when nothing fits.
std::optional<Assignment> plan_assignment(const Cycle& cycle, const Node& node, const Center& center);

// Why plan_assignment() found nothing on the node, e.g.
// "insufficient GPU memory (need 17.2 GiB, largest free 16 GiB)".
std::string explain_no_fit(const Cycle& cycle, const Node& node);

// "16 GiB", "17.2 GiB", "512 MiB", "3 KiB", "12 B": one decimal, rounded down
// (what is free) or up (what is needed), so a shortfall never reads as a fit.
std::string format_bytes(uint64_t bytes, bool round_up = false);
// A number with at most `decimals` decimals, trailing zeros dropped: "12.5", "3".
std::string format_number(double value, int decimals = 2);

}  // namespace scn::scheduler
