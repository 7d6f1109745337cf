#include "scheduler/plugins/model_present.h"

namespace scn::scheduler {

double ModelPresentScore::score(const Cycle& cycle, const NodeEval& e) const {
  return cycle.model_key && e.node().has_model(*cycle.model_key) ? 100 : 0;
}

}  // namespace scn::scheduler
