// Filter plugin `not_draining`: the node is not draining (an operator is
// emptying it; its replicas move elsewhere, so nothing new lands there).
// Split from `node_alive` so "why pending" tells a dead node from a draining one.
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class NotDrainingFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "not_draining"; }
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
