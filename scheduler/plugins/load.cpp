#include "scheduler/plugins/load.h"

namespace scn::scheduler {

double LoadScore::score(const Cycle&, const NodeEval& e) const {
  const NodeHot& h = e.hot();  // Node::replicas and Node::outstanding, packed
  return 100.0 / (1.0 + static_cast<double>(h.replicas) + static_cast<double>(h.outstanding) / 4.0);
}

}  // namespace scn::scheduler
