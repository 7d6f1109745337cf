#include "scheduler/plugins/latency.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

namespace scn::scheduler {
namespace {

std::string pair_key(std::string_view from, std::string_view to) {
  return region_key(from) + '\n' + region_key(to);
}

// Provincial capitals (latitude, longitude), the regions of the sim's centers.
struct Capital {
  const char* province;
  double lat, lon;
};
constexpr Capital kCapitals[] = {
    {"beijing", 39.90, 116.40},      {"tianjin", 39.13, 117.20},   {"hebei", 38.04, 114.51},
    {"shanxi", 37.87, 112.55},       {"inner-mongolia", 40.84, 111.75}, {"liaoning", 41.80, 123.43},
    {"jilin", 43.82, 125.32},        {"heilongjiang", 45.80, 126.53}, {"shanghai", 31.23, 121.47},
    {"jiangsu", 32.06, 118.80},      {"zhejiang", 30.27, 120.16},  {"anhui", 31.82, 117.23},
    {"fujian", 26.07, 119.30},       {"jiangxi", 28.68, 115.86},   {"shandong", 36.65, 117.12},
    {"henan", 34.75, 113.62},        {"hubei", 30.59, 114.31},     {"hunan", 28.23, 112.94},
    {"guangdong", 23.13, 113.26},    {"guangxi", 22.82, 108.32},   {"hainan", 20.04, 110.34},
    {"chongqing", 29.56, 106.55},    {"sichuan", 30.57, 104.07},   {"guizhou", 26.65, 106.63},
    {"yunnan", 25.04, 102.71},       {"tibet", 29.65, 91.13},      {"shaanxi", 34.34, 108.94},
    {"gansu", 36.06, 103.83},        {"qinghai", 36.62, 101.78},   {"ningxia", 38.49, 106.23},
    {"xinjiang", 43.83, 87.62},
};

double distance_km(const Capital& a, const Capital& b) {
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double dlat = (b.lat - a.lat) * kRad, dlon = (b.lon - a.lon) * kRad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371.0 * std::asin(std::min(1.0, std::sqrt(h)));
}

constexpr double kWorstRttMs = 100;

}  // namespace

void LatencyMatrix::set(std::string_view from, std::string_view to, double rtt_ms) {
  rtt_[pair_key(from, to)] = rtt_ms;
  rtt_.try_emplace(pair_key(to, from), rtt_ms);
}

std::optional<double> LatencyMatrix::rtt_ms(std::string_view from, std::string_view to) const {
  auto it = rtt_.find(pair_key(from, to));
  if (it == rtt_.end()) return std::nullopt;
  return it->second;
}

Result<LatencyMatrix> parse_latency_matrix(std::string_view text) {
  LatencyMatrix m;
  int line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string line(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    if (region_key(line).empty()) continue;
    const size_t c1 = line.find(','), c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
    const auto bad = [&](const std::string& why) {
      return Status::invalid_argument("latency matrix line " + std::to_string(line_no) + ": " + why);
    };
    if (c2 == std::string::npos || line.find(',', c2 + 1) != std::string::npos) {
      return bad("expected from,to,ms");
    }
    const std::string from = region_key(line.substr(0, c1)), to = region_key(line.substr(c1 + 1, c2 - c1 - 1));
    const std::string ms_text = region_key(line.substr(c2 + 1));
    char* end = nullptr;
    const double ms = std::strtod(ms_text.c_str(), &end);
    if (from.empty() || to.empty()) return bad("empty region");
    if (ms_text.empty() || end != ms_text.c_str() + ms_text.size() || !std::isfinite(ms) || ms < 0) {
      return bad("round-trip time must be a number >= 0, got '" + ms_text + "'");
    }
    m.set(from, to, ms);
  }
  return m;
}

const LatencyMatrix& china_latency_matrix() {
  static const LatencyMatrix matrix = [] {
    LatencyMatrix m;
    for (const Capital& a : kCapitals) {
      for (const Capital& b : kCapitals) {
        const double rtt = &a == &b ? 2.0 : 2.0 + 2.0 * distance_km(a, b) * 1.5 / 200.0;
        m.set(a.province, b.province, std::round(rtt * 10) / 10);
      }
    }
    return m;
  }();
  return matrix;
}

LatencyScore::LatencyScore(std::shared_ptr<const LatencyMatrix> matrix) : matrix_(std::move(matrix)) {
  static std::atomic<uint64_t> next_uid{1};
  uid_ = next_uid.fetch_add(1, std::memory_order_relaxed);
}

namespace {

// Per-thread memo of score_center(): by tenant region, one score per center
// of the snapshot (NaN: not computed yet). Valid for one plugin and one
// snapshot structure; the matrix lookup builds and hashes strings, which
// otherwise dominated the per-center cost of every decision.
struct LatencyMemo {
  uint64_t plugin = 0;  // LatencyScore::uid_
  uint64_t snapshot = 0;
  uint64_t structure = 0;
  std::unordered_map<std::string, std::vector<double>> by_tenant;
  const std::string* last_tenant = nullptr;  // key of `last` in by_tenant
  std::vector<double>* last = nullptr;
};

}  // namespace

double LatencyScore::center_score_uncached(const Cycle& cycle, const Center& center) const {
  const LatencyMatrix& m = matrix_ ? *matrix_ : china_latency_matrix();
  const auto rtt = m.rtt_ms(cycle.request.tenant_region, center.region);
  if (!rtt) return 0;
  return std::clamp(100.0 * (1.0 - *rtt / kWorstRttMs), 0.0, 100.0);
}

double LatencyScore::score_center(const Cycle& cycle, const Center& center) const {
  if (cycle.request.tenant_region.empty()) return 100;
  const auto& centers = cycle.snapshot.centers();
  if (centers.empty() || &center < centers.data() || &center >= centers.data() + centers.size()) {
    return center_score_uncached(cycle, center);  // not the snapshot's own center
  }
  thread_local LatencyMemo memo;
  if (memo.plugin != uid_ || memo.snapshot != cycle.snapshot.uid() ||
      memo.structure != cycle.snapshot.structure_version()) {
    memo.plugin = uid_;
    memo.snapshot = cycle.snapshot.uid();
    memo.structure = cycle.snapshot.structure_version();
    memo.by_tenant.clear();
    memo.last_tenant = nullptr;
    memo.last = nullptr;
  }
  const std::string& tenant = cycle.request.tenant_region;
  if (memo.last == nullptr || *memo.last_tenant != tenant) {
    auto [it, added] = memo.by_tenant.try_emplace(tenant);
    if (added) it->second.assign(centers.size(), std::numeric_limits<double>::quiet_NaN());
    memo.last_tenant = &it->first;
    memo.last = &it->second;
  }
  double& cached = (*memo.last)[static_cast<size_t>(&center - centers.data())];
  if (std::isnan(cached)) cached = center_score_uncached(cycle, center);
  return cached;
}

double LatencyScore::score(const Cycle& cycle, const NodeEval& e) const {
  return score_center(cycle, e.center());
}

}  // namespace scn::scheduler
