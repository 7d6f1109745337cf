#include "scheduler/plugins/taints.h"

namespace scn::scheduler {

const Taint* untolerated_taint(const ReplicaRequest& request, const Node& node) {
  for (const Taint& t : node.taints) {
    if (t.effect == "PreferNoSchedule") continue;
    bool tolerated = false;
    for (const std::string& tol : request.tolerations) {
      if (tol == "*" || tol == t.key ||
          (tol.size() == t.key.size() + 1 + t.effect.size() && tol.compare(0, t.key.size(), t.key) == 0 &&
           tol[t.key.size()] == '=' && tol.compare(t.key.size() + 1, std::string::npos, t.effect) == 0)) {
        tolerated = true;
        break;
      }
    }
    if (!tolerated) return &t;
  }
  return nullptr;
}

bool TaintsFilter::filter(const Cycle& cycle, const NodeEval& e) const {
  if (!e.hot().has_taints || cycle.tolerates_all) return true;
  return untolerated_taint(cycle.request, e.node()) == nullptr;
}

std::string TaintsFilter::reason(const Cycle& cycle, const NodeEval& e) const {
  const Taint* t = untolerated_taint(cycle.request, e.node());
  return t == nullptr ? std::string() : "untolerated taint " + t->key + "=" + t->effect;
}

}  // namespace scn::scheduler
