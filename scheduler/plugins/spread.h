// Score plugin `spread`: availability: fewer replicas of the same service
// on the node and in its center. With n = the service's replicas on the node
// and c = in the node's center (both counting reservations of this cycle):
// score = 75 / (1 + n)^2 + 25 / (1 + c). 100 for an untouched center, 87.5 for
// another node of a center that has one, 31.25 on a node that has one.
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class SpreadScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "spread"; }
  double score(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
