#include "scheduler/plugins/spread.h"

namespace scn::scheduler {

double SpreadScore::score(const Cycle& cycle, const NodeEval& e) const {
  if (!cycle.service) return 100;  // no replica of the service anywhere yet
  const NodeHot& h = e.hot();
  const double n = cycle.service_replicas_on_node(e.index());
  const double c = cycle.service_replicas_in_center(h.center);
  return 75.0 / ((1 + n) * (1 + n)) + 25.0 / (1 + c);
}

}  // namespace scn::scheduler
