// Filter plugin `node_alive`: the center is active (not in maintenance
// or retired) and the node is alive (heartbeat within the TTL). Draining is
// judged by `not_draining` (plugins/not_draining.h).
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class NodeAliveFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "node_alive"; }
  bool filter_center(const Cycle& cycle, const Center& center) const override;
  std::string center_reason(const Cycle& cycle, const Center& center) const override;
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
