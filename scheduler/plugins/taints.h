// Filter plugin `taints`: a node tainted with a node label
// `taint.<key>=<effect>` takes only replicas that tolerate it.
//
// Contract:
//  - Effects NoSchedule and NoExecute (and any other text, fail closed) keep
//    a replica off the node unless request.tolerations holds "<key>" (every
//    effect), "<key>=<effect>" (that effect) or "*" (every taint). Keys and
//    effects compare exactly; PreferNoSchedule never rejects.
//  - A node without taints passes at once (the common case costs one test).
//  - The reason names the first untolerated taint, e.g.
//    "untolerated taint gpu-reserved=NoSchedule".
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class TaintsFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "taints"; }
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

// The first taint of `node` that `request` does not tolerate, or nullptr.
const Taint* untolerated_taint(const ReplicaRequest& request, const Node& node);

}  // namespace scn::scheduler
