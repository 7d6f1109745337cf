// Filter plugin `fits`: the replica fits on the node by the rule of
// assignment.h (one GPU's free memory >= weights + KV budget + overhead, or RAM
// for a CPU replica, plus the host cores). The reason says what is short, e.g.
// "insufficient GPU memory (need 17.2 GiB, largest free 16 GiB)".
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class FitsFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "fits"; }
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
