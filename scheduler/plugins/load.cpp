#include "scheduler/plugins/load.h"

namespace scn::scheduler {

double LoadScore::score(const Cycle&, const NodeEval& e) const {
  const Node& n = e.node();
  return 100.0 / (1.0 + static_cast<double>(n.replicas) + static_cast<double>(n.outstanding) / 4.0);
}

}  // namespace scn::scheduler
