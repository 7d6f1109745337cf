#include "scheduler/plugins/price.h"

namespace scn::scheduler {

double PriceScore::score(const Cycle&, const NodeEval& e) const {
  const Assignment* a = e.assignment();
  if (a == nullptr) return 0;
  return 100.0 / (1.0 + a->price_per_hour);
}

}  // namespace scn::scheduler
