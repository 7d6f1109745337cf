// Filter plugin `allowed_regions`: data residency, fail closed. A node's
// region is its center's region. A center whose region is unknown (empty or
// "unknown") is rejected for every replica; otherwise an empty
// request.allowed_regions allows any region, a non-empty one only those listed
// (case-insensitive, surrounding spaces ignored).
#pragma once

#include "scheduler/plugin.h"

namespace scn::scheduler {

class AllowedRegionsFilter final : public FilterPlugin {
 public:
  std::string_view name() const override { return "allowed_regions"; }
  bool filter_center(const Cycle& cycle, const Center& center) const override;
  std::string center_reason(const Cycle& cycle, const Center& center) const override;
  bool filter(const Cycle& cycle, const NodeEval& node) const override;
  std::string reason(const Cycle& cycle, const NodeEval& node) const override;
};

}  // namespace scn::scheduler
