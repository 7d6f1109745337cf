// Score plugin `bin_packing`: least fragmentation. The device the replica
// takes (its GPU, or the RAM of a CPU replica) should be as full as possible
// after placement: score = 100 x (1 - free after / device memory). A replica
// that fills a GPU exactly scores 100; one on an empty 141 GB GPU scores low.
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class BinPackingScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "bin_packing"; }
  double score(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
