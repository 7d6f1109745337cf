#include "scheduler/plugins/spread.h"

namespace scn::scheduler {

double SpreadScore::score(const Cycle& cycle, const NodeEval& e) const {
  if (!cycle.service) return 100;  // no replica of the service anywhere yet
  const double n = e.node().replicas_of(*cycle.service);
  const double c = cycle.service_replicas_in_center(e.node().center);
  return 75.0 / ((1 + n) * (1 + n)) + 25.0 / (1 + c);
}

}  // namespace scn::scheduler
