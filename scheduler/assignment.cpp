#include "scheduler/assignment.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace scn::scheduler {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t add_sat(uint64_t a, uint64_t b) { return a > kMax - b ? kMax : a + b; }
uint64_t mul_sat(uint64_t a, uint64_t b) { return (b != 0 && a > kMax / b) ? kMax : a * b; }

// The GPU fields plan_assignment() reads, from the snapshot's packed hot
// fields when the node is the snapshot's own, else from the node.
struct GpuView {
  uint64_t free_bytes, memory_bytes;
  int64_t device_id;
  int index;
};

// Best-fit GPU position among the allowed GPUs with enough free memory, or -1.
int best_gpu(const Cycle& cycle, const Node& node, GpuView* view) {
  const auto& nodes = cycle.snapshot.nodes();
  int best = -1;
  if (!nodes.empty() && &node >= nodes.data() && &node < nodes.data() + nodes.size()) {
    const NodeHot& h = cycle.snapshot.hot()[static_cast<size_t>(&node - nodes.data())];
    const GpuHot* gpus = cycle.snapshot.gpu_hot().data() + h.gpu_begin;
    const uint64_t* free = cycle.snapshot.gpu_free().data() + h.gpu_begin;
    const uint64_t need = cycle.need_gpu_bytes;
    if ((h.gpu_models & (~cycle.gpu_model_mask | NodeHot::kModelOverflow)) == 0) {
      // Every GPU of the node is of an allowed model: the free bytes decide
      // alone (one cache line for 8 GPUs).
      uint64_t best_free = 0;
      for (int i = 0; i < h.gpu_count; ++i) {
        const uint64_t f = free[i];
        if (f >= need && (best < 0 || f < best_free)) {
          best = i;
          best_free = f;
        }
      }
    } else {
      for (int i = 0; i < h.gpu_count; ++i) {
        if (free[i] < need || !cycle.gpu_model_allowed[gpus[i].model_id]) continue;
        if (best < 0 || free[i] < free[best]) best = i;
      }
    }
    if (best >= 0) *view = {free[best], gpus[best].memory_bytes, gpus[best].device_id, gpus[best].index};
    return best;
  }
  for (int i = 0; i < static_cast<int>(node.gpus.size()); ++i) {
    const Gpu& g = node.gpus[i];
    if (!cycle.gpu_allowed(g) || g.free_bytes < cycle.need_gpu_bytes) continue;
    if (best < 0 || g.free_bytes < node.gpus[best].free_bytes) best = i;
  }
  if (best >= 0) {
    const Gpu& g = node.gpus[best];
    *view = {g.free_bytes, g.memory_bytes, g.device_id, g.index};
  }
  return best;
}

}  // namespace

uint64_t replica_memory_bytes(const ModelRequirements& m, DeviceKind kind) {
  const uint64_t overhead = kind == DeviceKind::kCpu ? kCpuOverheadBytes : kGpuOverheadBytes;
  uint64_t need = add_sat(m.weight_bytes, mul_sat(m.kv_bytes_per_token, m.context_tokens));
  need = add_sat(need, overhead);
  return add_sat(need, m.weight_bytes / 16);
}

std::optional<Assignment> plan_assignment(const Cycle& cycle, const Node& node, const Center& center) {
  const ReplicaRequest& r = cycle.request;
  // Free cores and RAM from the packed hot fields when the node is the
  // snapshot's own (they are equal; the hot ones are cheaper to reach).
  const auto& nodes = cycle.snapshot.nodes();
  const bool own = !nodes.empty() && &node >= nodes.data() && &node < nodes.data() + nodes.size();
  const NodeHot* hot = own ? &cycle.snapshot.hot()[static_cast<size_t>(&node - nodes.data())] : nullptr;
  const int free_cores = hot ? hot->free_cores : node.free_cpu_cores;
  const uint64_t free_ram = hot ? hot->free_ram : node.free_ram_bytes;
  if (r.device_kind != DeviceKind::kCpu && free_cores >= r.gpu_host_cores) {
    GpuView g{};
    const int gpu = best_gpu(cycle, node, &g);
    if (gpu >= 0) {
      Assignment a;
      a.kind = DeviceKind::kGpu;
      a.gpu = gpu;
      a.gpu_index = g.index;
      a.device_id = g.device_id;
      a.memory_bytes = cycle.need_gpu_bytes;
      a.cpu_cores = r.gpu_host_cores;
      a.price_per_hour = center.price_gpu_hour * (static_cast<double>(a.memory_bytes) /
                                                  static_cast<double>(g.memory_bytes));
      return a;
    }
  }
  if (r.device_kind != DeviceKind::kGpu && free_cores >= r.cpu_cores && free_ram >= cycle.need_cpu_bytes) {
    Assignment a;
    a.kind = DeviceKind::kCpu;
    a.device_id = node.cpu_device_id;
    a.memory_bytes = cycle.need_cpu_bytes;
    a.cpu_cores = r.cpu_cores;
    a.price_per_hour = center.price_cpu_core_hour * r.cpu_cores;
    return a;
  }
  return std::nullopt;
}

std::string explain_no_fit(const Cycle& cycle, const Node& node) {
  const ReplicaRequest& r = cycle.request;
  std::string gpu_why;
  if (r.device_kind != DeviceKind::kCpu) {
    uint64_t largest_free = 0, largest_gpu = 0;
    bool any_allowed = false;
    for (const Gpu& g : node.gpus) {
      if (!cycle.gpu_allowed(g)) continue;
      any_allowed = true;
      largest_free = std::max(largest_free, g.free_bytes);
      largest_gpu = std::max(largest_gpu, g.memory_bytes);
    }
    const std::string need = format_bytes(cycle.need_gpu_bytes, /*round_up=*/true);
    if (!any_allowed) {
      gpu_why = "no allowed GPU";
    } else if (largest_gpu < cycle.need_gpu_bytes) {
      // The engine has no tensor parallelism: a replica runs on one GPU.
      const uint64_t gpus = (cycle.need_gpu_bytes + largest_gpu - 1) / largest_gpu;
      gpu_why = "model needs " + need + ", more than the largest GPU (" + format_bytes(largest_gpu) +
                "): needs " + std::to_string(gpus) +
                " GPUs; multi-GPU replicas are not supported by the engine yet";
    } else if (largest_free < cycle.need_gpu_bytes) {
      gpu_why = "insufficient GPU memory (need " + need + ", largest free " + format_bytes(largest_free) + ")";
    } else {
      gpu_why = "insufficient CPU cores for a GPU replica (need " + std::to_string(r.gpu_host_cores) +
                ", free " + std::to_string(node.free_cpu_cores) + ")";
    }
    if (r.device_kind == DeviceKind::kGpu) return gpu_why;
  }
  std::string cpu_why;
  if (node.free_ram_bytes < cycle.need_cpu_bytes) {
    cpu_why = "insufficient RAM (need " + format_bytes(cycle.need_cpu_bytes, true) + ", free " +
              format_bytes(node.free_ram_bytes) + ")";
  } else {
    cpu_why = "insufficient CPU cores (need " + std::to_string(r.cpu_cores) + ", free " +
              std::to_string(node.free_cpu_cores) + ")";
  }
  if (r.device_kind == DeviceKind::kCpu) return cpu_why;
  return gpu_why + "; and on the CPU: " + cpu_why;
}

std::string format_number(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string format_bytes(uint64_t bytes, bool round_up) {
  struct Unit {
    uint64_t size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{uint64_t{1} << 40, "TiB"}, {kGiB, "GiB"}, {kMiB, "MiB"}, {1024, "KiB"}};
  for (const Unit& u : kUnits) {
    if (bytes >= u.size) {
      const double tenths = static_cast<double>(bytes) / static_cast<double>(u.size) * 10.0;
      const double v = (round_up ? std::ceil(tenths) : std::floor(tenths)) / 10.0;
      return format_number(v, 1) + " " + u.name;
    }
  }
  return std::to_string(bytes) + " B";
}

}  // namespace scn::scheduler
