#include "scheduler/plugins/model_present.h"

namespace scn::scheduler {

double ModelPresentScore::score(const Cycle& cycle, const NodeEval& e) const {
  if (!cycle.model_key || (e.hot().model_bloom & (uint64_t{1} << (*cycle.model_key % 64))) == 0) return 0;
  // With at most 64 interned model keys the bloom bits are distinct: a set
  // bit is the model itself (no need to reach the Node).
  if (cycle.snapshot.model_key_count() <= 64) return 100;
  return e.node().has_model(*cycle.model_key) ? 100 : 0;
}

}  // namespace scn::scheduler
