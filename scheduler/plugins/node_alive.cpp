#include "scheduler/plugins/node_alive.h"

namespace scn::scheduler {

bool NodeAliveFilter::filter_center(const Cycle&, const Center& center) const {
  return center.status == CenterStatus::kActive;
}

std::string NodeAliveFilter::center_reason(const Cycle&, const Center& center) const {
  return "center " + center.name + " is " + std::string(center_status_name(center.status));
}

bool NodeAliveFilter::filter(const Cycle&, const NodeEval& e) const {
  return e.hot().alive;
}

std::string NodeAliveFilter::reason(const Cycle&, const NodeEval& e) const {
  if (!e.node().alive) return "node not alive (no heartbeat within the TTL)";
  return {};
}

}  // namespace scn::scheduler
