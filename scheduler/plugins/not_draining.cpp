#include "scheduler/plugins/not_draining.h"

namespace scn::scheduler {

bool NotDrainingFilter::filter(const Cycle&, const NodeEval& e) const { return !e.hot().draining; }

std::string NotDrainingFilter::reason(const Cycle&, const NodeEval& e) const {
  return e.node().draining ? "node is draining" : std::string();
}

}  // namespace scn::scheduler
