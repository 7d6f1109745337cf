// Score plugin `model_present`: the weights are already on the node
// (no download before the replica starts): 100 if the node's models include
// request.model.model_key, else 0.
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class ModelPresentScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "model_present"; }
  double score(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
