// Score plugin `latency`: centers near the tenant score higher.
//
// Contract:
//  - A LatencyMatrix holds round-trip times in ms from a province (the
//    tenant's region) to a center's region; names compare as region_key()
//    (case-insensitive, trimmed). Symmetric unless both directions are set.
//    parse_latency_matrix() reads lines "from,to,ms" ('#' comments, blank
//    lines ignored); a bad line is InvalidArgument naming it.
//  - china_latency_matrix(): the default for the 31 mainland provinces,
//    estimated from the great-circle distance between provincial capitals:
//    rtt = 2 ms + 2 x distance x 1.5 (fibre route factor) / 200 km per ms;
//    2 ms within one province. An estimate, not a measurement.
//  - score = 100 x (1 - rtt / 100 ms), clamped to 0..100. A request without
//    tenant_region scores 100 everywhere (no preference); a pair the matrix
//    lacks scores 0. The score depends only on the center, so the framework
//    computes it once per center per decision (per_center()); the plugin
//    also memoises it per thread by (snapshot, structure version, tenant
//    region, center), so the matrix is read once per pair.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "scheduler/plugin.h"

namespace scn::scheduler {

class LatencyMatrix {
 public:
  void set(std::string_view from, std::string_view to, double rtt_ms);
  std::optional<double> rtt_ms(std::string_view from, std::string_view to) const;
  size_t size() const { return rtt_.size(); }

 private:
  std::unordered_map<std::string, double> rtt_;  // region_key(from) + '\n' + region_key(to)
};

Result<LatencyMatrix> parse_latency_matrix(std::string_view text);
const LatencyMatrix& china_latency_matrix();

class LatencyScore final : public ScorePlugin {
 public:
  explicit LatencyScore(std::shared_ptr<const LatencyMatrix> matrix = nullptr);
  std::string_view name() const override { return "latency"; }
  double score(const Cycle& cycle, const NodeEval& node) const override;
  double score_center(const Cycle& cycle, const Center& center) const override;
  bool per_center() const override { return true; }

 private:
  double center_score_uncached(const Cycle& cycle, const Center& center) const;
  std::shared_ptr<const LatencyMatrix> matrix_;  // null: china_latency_matrix()
  uint64_t uid_ = 0;  // process-unique: names this plugin's memo
};

}  // namespace scn::scheduler
