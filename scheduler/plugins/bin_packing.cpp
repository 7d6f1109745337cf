#include "scheduler/plugins/bin_packing.h"

namespace scn::scheduler {

double BinPackingScore::score(const Cycle&, const NodeEval& e) const {
  const Assignment* a = e.assignment();
  if (a == nullptr) return 0;
  uint64_t capacity = 0, free = 0;
  if (a->kind == DeviceKind::kGpu) {
    const GpuHot& g = e.gpu_hot(a->gpu);
    capacity = g.memory_bytes;
    free = g.free_bytes;
  } else {
    capacity = e.node().ram_bytes;
    free = e.node().free_ram_bytes;
  }
  if (capacity == 0 || free < a->memory_bytes) return 0;
  const double after = static_cast<double>(free - a->memory_bytes);
  return 100.0 * (1.0 - after / static_cast<double>(capacity));
}

}  // namespace scn::scheduler
