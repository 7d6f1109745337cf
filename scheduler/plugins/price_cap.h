// Filter plugin `price_cap`: the replica's price per hour on the node
// (assignment.h: a GPU replica pays its memory share of the GPU-hour price, a
// CPU replica its cores' core-hour price) is at most request.price_cap_per_hour.
// No cap: every node passes. A node nothing fits on passes (`fits` rejects it).
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class PriceCapFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "price_cap"; }
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
