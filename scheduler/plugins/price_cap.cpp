#include "scheduler/plugins/price_cap.h"

#include "scheduler/assignment.h"

namespace scn::scheduler {
namespace {

// Prices are decimals (numeric(12, 4)); absorb the binary rounding of x/y.
constexpr double kTolerance = 1e-9;

}  // namespace

bool PriceCapFilter::filter(const Cycle& cycle, const NodeEval& e) const {
  if (!cycle.request.price_cap_per_hour) return true;
  const Assignment* a = e.assignment();
  return a == nullptr || a->price_per_hour <= *cycle.request.price_cap_per_hour + kTolerance;
}

std::string PriceCapFilter::reason(const Cycle& cycle, const NodeEval& e) const {
  const Assignment* a = e.assignment();
  if (a == nullptr || !cycle.request.price_cap_per_hour) return {};
  return "price " + format_number(a->price_per_hour, 4) + " per hour above the cap " +
         format_number(*cycle.request.price_cap_per_hour, 4) + " (" +
         (a->kind == DeviceKind::kGpu ? "GPU share at " + format_number(e.center().price_gpu_hour, 4) +
                                            " per GPU-hour"
                                      : std::to_string(a->cpu_cores) + " cores at " +
                                            format_number(e.center().price_cpu_core_hour, 4) +
                                            " per core-hour") +
         ")";
}

}  // namespace scn::scheduler
