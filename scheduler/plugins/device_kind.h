// Filter plugin `device_kind`: the node has the kind of device the replica
// wants. gpu: at least one GPU whose model is allowed (request.device_models,
// case-insensitive; empty = any model). cpu and any: every node passes (every
// node has CPUs; any falls back to RAM when no allowed GPU fits).
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class DeviceKindFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "device_kind"; }
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
