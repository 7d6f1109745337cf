// Score plugin `price`: cheaper is better. Raw score 100 / (1 + price per
// hour of the assignment), min-max normalised over the feasible nodes of the
// decision: the cheapest feasible node scores 100, the dearest 0 (all 100
// when every node costs the same).
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class PriceScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "price"; }
  double score(const Cycle& cycle, const NodeEval& node) const override;
  bool normalize() const override { return true; }
};

}  // namespace scn::scheduler
