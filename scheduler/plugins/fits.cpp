#include "scheduler/plugins/fits.h"

#include "scheduler/assignment.h"

namespace scn::scheduler {

bool FitsFilter::filter(const Cycle&, const NodeEval& e) const { return e.assignment() != nullptr; }

std::string FitsFilter::reason(const Cycle& cycle, const NodeEval& e) const {
  return explain_no_fit(cycle, e.node());
}

}  // namespace scn::scheduler
