// Score plugin `load`: prefer nodes doing less. With r = the replicas on the
// node (all services, counting this cycle's reservations) and q = requests
// in flight there (Node::outstanding, from heartbeats):
// score = 100 / (1 + r + q / 4). 100 for an idle empty node.
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class LoadScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "load"; }
  double score(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
