#include "scheduler/framework.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <set>

#include "scheduler/assignment.h"
#include "scheduler/plugins/registry.h"
#include "scheduler/verdict_cache.h"

namespace scn::scheduler {
namespace {

constexpr std::string_view kFitsRule = "fits";

// FNV-1a: a stable start offset from the replica id.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Framework::Framework(Profile profile) : profile_(std::move(profile)) {
  static std::atomic<uint64_t> next_uid{1};
  uid_ = next_uid.fetch_add(1, std::memory_order_relaxed);
  for (const auto& f : profile_.filters) filter_ptrs_.push_back(f.get());
  for (const auto& w : profile_.scores) {
    score_ptrs_.push_back(w.plugin.get());
    score_per_center_.push_back(w.plugin->per_center() ? 1 : 0);
  }
}

Result<Framework> Framework::create(Profile profile) {
  std::set<std::string_view> filter_names, score_names;
  for (const auto& f : profile.filters) {
    if (!f) return Status::invalid_argument("profile has a null filter plugin");
    if (!filter_names.insert(f->name()).second) {
      return Status::invalid_argument("filter plugin '" + std::string(f->name()) + "' listed twice");
    }
  }
  for (const auto& s : profile.scores) {
    if (!s.plugin) return Status::invalid_argument("profile has a null score plugin");
    if (!score_names.insert(s.plugin->name()).second) {
      return Status::invalid_argument("score plugin '" + std::string(s.plugin->name()) + "' listed twice");
    }
    if (!std::isfinite(s.weight) || s.weight <= 0) {
      return Status::invalid_argument("score plugin '" + std::string(s.plugin->name()) +
                                      "' needs a finite weight > 0");
    }
  }
  return Framework(std::move(profile));
}

namespace {

// Per-decision scratch, reused across decisions of one thread so the hot
// path allocates nothing once warm.
struct Scratch {
  std::vector<int> center_fail;
  std::vector<uint8_t> center_open;
  std::vector<uint32_t> open_centers;
  std::vector<uint32_t> start;  // per open center: the scan's first position
  std::vector<uint32_t> order;  // the scan's visits, laid out a round at a time
  std::vector<uint32_t> rejected;
  std::vector<int64_t> example;
  std::vector<uint32_t> feasible;
  std::vector<double> raw;
  std::vector<double> norm;
  std::vector<double> center_scores;  // centers x scores; NaN: not computed
  // Verdicts of the nodes this decision evaluated one by one (0xFF: none);
  // reset after use through `touched`, so a decision costs what it visits.
  std::vector<uint8_t> recorded;
  std::vector<uint32_t> touched;  // nodes whose `recorded` is set
  std::vector<uint32_t> stamp;        // dedupes the change log's repeats
  uint32_t stamp_clock = 0;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Can anything of the replica fit somewhere in the center, by the center's
// upper bounds (Snapshot::center_max_free_*)? false proves no node fits.
bool center_may_fit(const Snapshot& snap, const Cycle& cycle, uint32_t c) {
  const ReplicaRequest& r = cycle.request;
  const int cores = snap.center_max_free_cores(c);
  const bool gpu = r.device_kind != DeviceKind::kCpu && snap.center_max_free_gpu(c) >= cycle.need_gpu_bytes &&
                   cores >= r.gpu_host_cores;
  const bool cpu = r.device_kind != DeviceKind::kGpu && snap.center_max_free_ram(c) >= cycle.need_cpu_bytes &&
                   cores >= r.cpu_cores;
  return gpu || cpu;
}

}  // namespace

Placement Framework::place(const Snapshot& snapshot, const ReplicaRequest& request) const {
  Placement out;
  const auto& nodes = snapshot.nodes();
  const auto n = static_cast<uint32_t>(nodes.size());
  out.nodes_total = n;
  if (Status st = validate_request(request); !st.is_ok()) {
    out.error = st.message();
    return out;
  }
  const Cycle cycle(snapshot, request);
  const FilterPlugin* const* filter_ptrs = filter_ptrs_.data();
  const ScorePlugin* const* score_ptrs = score_ptrs_.data();
  const uint8_t* score_per_center = score_per_center_.data();
  const auto& filters = profile_.filters;
  const auto& scores = profile_.scores;
  const size_t nf = filters.size();
  const size_t ns = scores.size();
  const auto& members = snapshot.center_members();
  const size_t nc = snapshot.centers().size();
  Scratch& sc = scratch();

  // Center-level verdicts: the first filter that rejects each center, or -1.
  sc.center_fail.assign(nc, -1);
  for (size_t c = 0; c < nc; ++c) {
    for (size_t f = 0; f < nf; ++f) {
      if (!filters[f]->filter_center(cycle, snapshot.centers()[c])) {
        sc.center_fail[c] = static_cast<int>(f);
        break;
      }
    }
  }

  const uint32_t limit = profile_.max_feasible_nodes;
  const std::vector<uint32_t>& rank = snapshot.id_ranks();
  const uint64_t hash = fnv1a(request.replica_id);
  sc.center_scores.assign(nc * ns, std::numeric_limits<double>::quiet_NaN());
  const auto feasible_verdict = static_cast<uint8_t>(nf + 1);

  // The exact verdict of node i: the first filter that rejects it (its
  // center's verdict first), nf for the fit rule, nf + 1 when feasible.
  auto evaluate = [&](uint32_t i) -> uint8_t {
    const int center_fail = sc.center_fail[snapshot.hot()[i].center];
    if (center_fail >= 0) return static_cast<uint8_t>(center_fail);
    const NodeEval eval(cycle, i);
    for (size_t f = 0; f < nf; ++f) {
      if (!filters[f]->filter(cycle, eval)) return static_cast<uint8_t>(f);
    }
    return eval.assignment() == nullptr ? static_cast<uint8_t>(nf) : feasible_verdict;
  };

  // The verdict cache: an entry for this shape, brought up to date.
  const bool use_cache = profile_.cache_verdicts && nf + 2 <= 255;
  VerdictCache* cache = use_cache ? &VerdictCache::local() : nullptr;
  std::string shape;
  VerdictEntry* entry = nullptr;
  if (cache != nullptr) {
    shape = shape_key(request);
    entry = cache->find(uid_, snapshot, shape);
    if (entry != nullptr) {
      const auto changes = *snapshot.changes_since(entry->position);
      sc.stamp.resize(n, 0);
      if (++sc.stamp_clock == 0) {
        std::fill(sc.stamp.begin(), sc.stamp.end(), 0);
        sc.stamp_clock = 1;
      }
      for (size_t k = 0; k < changes.second; ++k) {
        const uint32_t i = changes.first[k];
        if (sc.stamp[i] == sc.stamp_clock) continue;
        sc.stamp[i] = sc.stamp_clock;
        const uint8_t v = evaluate(i);
        uint8_t& old = entry->verdict[i];
        if (v == old) continue;
        entry->count[old]--;
        entry->count[v]++;
        old = v;
      }
      entry->position = snapshot.change_position();
    }
  }
  // Unschedulable by the entry: every node's verdict is known and exact.
  const bool pending_by_entry = entry != nullptr && entry->count[feasible_verdict] == 0;
  // Without an entry, verdicts are recorded so an unschedulable result can
  // become one (0xFF: not visited).
  const bool record = cache != nullptr && entry == nullptr;
  if (record) {
    if (sc.recorded.size() != n) {
      sc.recorded.assign(n, 0xFF);
    } else {
      for (uint32_t i : sc.touched) sc.recorded[i] = 0xFF;
    }
    sc.touched.clear();
  }

  // One scan. With `use_bounds`, centers whose capacity bounds prove that
  // nothing fits are skipped (a speed-up only: they hold no feasible node).
  // Nodes are visited round-robin over the open centers, each center from an
  // offset chosen by the replica id's hash, so a sampled scan sees every
  // center. Index nf of rejected/example stands for the implicit fit rule.
  auto scan = [&](bool use_bounds) {
    sc.rejected.assign(nf + 1, 0);
    sc.example.assign(nf + 1, -1);
    sc.feasible.clear();
    sc.raw.clear();
    sc.open_centers.clear();
    out.nodes_evaluated = 0;
    out.nodes_skipped = 0;
    size_t longest = 0;
    for (size_t k = 0; k < nc; ++k) {
      const uint32_t c = static_cast<uint32_t>((k + hash) % (nc == 0 ? 1 : nc));
      const auto& list = members[c];
      if (list.empty()) continue;
      if (const int fail = sc.center_fail[c]; fail >= 0) {
        sc.rejected[fail] += static_cast<uint32_t>(list.size());
        out.nodes_evaluated += static_cast<uint32_t>(list.size());
        int64_t& ex = sc.example[fail];
        if (ex < 0 || rank[list.front()] < rank[ex]) ex = list.front();  // members are in id order
        continue;
      }
      if (use_bounds && !center_may_fit(snapshot, cycle, c)) {
        out.nodes_skipped += static_cast<uint32_t>(list.size());
        continue;
      }
      sc.open_centers.push_back(c);
      longest = std::max(longest, list.size());
    }
    // Each open center's start offset. The visit order (round p, j-th open
    // center: that center's node at its start + p) is laid out a round at a
    // time in sc.order, so the prefetches below read it like an array.
    sc.start.resize(sc.open_centers.size());
    for (size_t j = 0; j < sc.open_centers.size(); ++j) {
      sc.start[j] = static_cast<uint32_t>((hash >> 17) % members[sc.open_centers[j]].size());
    }
    const size_t width = sc.open_centers.size();
    sc.order.clear();
    size_t next_round = 0;
    auto add_round = [&] {
      for (size_t j = 0; j < width; ++j) {
        const auto& list = members[sc.open_centers[j]];
        if (next_round >= list.size()) continue;
        size_t at = sc.start[j] + next_round;
        if (at >= list.size()) at -= list.size();
        sc.order.push_back(list[at]);
      }
      ++next_round;
    };
    // Software prefetch: the nodes visited are scattered over the pool, so
    // their hot fields (one aligned line) are fetched kHotAhead visits ahead,
    // and their GPUs' free bytes and hot fields (which need the hot fields'
    // gpu_begin) kGpuAhead ahead.
    constexpr size_t kHotAhead = 8, kGpuAhead = 4;
    const NodeHot* hot = snapshot.hot().data();
    const uint64_t* gpu_free = snapshot.gpu_free().data();
    const GpuHot* gpu_hot = snapshot.gpu_hot().data();
    for (size_t pos = 0;; ++pos) {
      while (sc.order.size() <= pos + kHotAhead && next_round < longest) add_round();
      if (pos >= sc.order.size()) break;
      const uint32_t* order = sc.order.data();
      const size_t visible = sc.order.size();
      // (Written out here: GCC deletes the calls of a helper function or
      // lambda that only prefetches, deeming it free of effects.)
      if (pos + kHotAhead < visible) __builtin_prefetch(&hot[order[pos + kHotAhead]]);
      if (pos + kGpuAhead < visible) {
        const NodeHot& a = hot[order[pos + kGpuAhead]];
        if (a.gpu_count > 0) {
          const char* f = reinterpret_cast<const char*>(&gpu_free[a.gpu_begin]);
          __builtin_prefetch(f);
          const char* g = reinterpret_cast<const char*>(&gpu_hot[a.gpu_begin]);
          const size_t bytes = a.gpu_count * sizeof(GpuHot);
          for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(g + off);
        }
      }
      const uint32_t i = order[pos];
      const uint32_t c = hot[i].center;
      ++out.nodes_evaluated;
      // One NodeEval per visit: the assignment planned by the filters is the
      // one the scores read.
      const NodeEval eval(cycle, i);
      uint8_t v;
      if (entry != nullptr) {
        v = entry->verdict[i];
      } else if (record && sc.recorded[i] != 0xFF) {
        v = sc.recorded[i];  // visited by the bounded scan of this decision
      } else {
        // In the exact rescan, a center whose bounds prove nothing fits
        // rejects its nodes under the fit rule without planning them.
        const bool center_fits = use_bounds || center_may_fit(snapshot, cycle, c);
        int fail = -1;
        for (size_t f = 0; f < nf; ++f) {
          if (!filter_ptrs[f]->filter(cycle, eval)) {
            fail = static_cast<int>(f);
            break;
          }
        }
        if (fail < 0 && (!center_fits || eval.assignment() == nullptr)) fail = static_cast<int>(nf);
        v = fail < 0 ? feasible_verdict : static_cast<uint8_t>(fail);
        if (record) {
          sc.recorded[i] = v;
          sc.touched.push_back(i);
        }
      }
      if (v != feasible_verdict) {
        sc.rejected[v]++;
        int64_t& ex = sc.example[v];
        if (ex < 0 || rank[i] < rank[ex]) ex = i;
        continue;
      }
      sc.feasible.push_back(i);
      for (size_t s = 0; s < ns; ++s) {
        const ScorePlugin& plugin = *score_ptrs[s];
        if (score_per_center[s] != 0) {
          double& cached = sc.center_scores[c * ns + s];
          if (std::isnan(cached)) cached = plugin.score_center(cycle, eval.center());
          sc.raw.push_back(cached);
        } else {
          sc.raw.push_back(plugin.score(cycle, eval));
        }
      }
      if (limit > 0 && sc.feasible.size() >= limit) return;
    }
  };
  if (pending_by_entry) {
    // What the exhaustive scan would find, from the entry's verdicts.
    sc.rejected.assign(entry->count.begin(), entry->count.begin() + static_cast<std::ptrdiff_t>(nf + 1));
    sc.example.assign(nf + 1, -1);
    sc.feasible.clear();
    sc.raw.clear();
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t v = entry->verdict[i];
      if (v > nf) continue;
      int64_t& ex = sc.example[v];
      if (ex < 0 || rank[i] < rank[ex]) ex = i;
    }
    out.nodes_evaluated = n;
    out.nodes_skipped = 0;
  } else {
    scan(/*use_bounds=*/true);
    // Unschedulable: scan again without skipping, so "why pending" counts
    // every node under the filter that rejected it.
    if (sc.feasible.empty() && out.nodes_skipped > 0) scan(/*use_bounds=*/false);
    if (record && sc.feasible.empty()) {
      // Every node was visited: keep the verdicts for the next of this shape.
      VerdictEntry& e = cache->insert(uid_, snapshot, std::move(shape), nf + 2);
      // Nodes of centers rejected as a whole were not visited one by one.
      e.verdict.assign(sc.recorded.begin(), sc.recorded.end());
      const NodeHot* hot = snapshot.hot().data();
      for (uint32_t i = 0; i < n; ++i) {
        if (e.verdict[i] == 0xFF) e.verdict[i] = static_cast<uint8_t>(sc.center_fail[hot[i].center]);
      }
      for (size_t f = 0; f <= nf; ++f) e.count[f] = sc.rejected[f];
    }
  }
  out.nodes_feasible = static_cast<uint32_t>(sc.feasible.size());

  // Why the others were rejected.
  for (size_t f = 0; f <= nf; ++f) {
    if (sc.rejected[f] == 0) continue;
    Rejection r;
    r.filter = std::string(f < nf ? filters[f]->name() : kFitsRule);
    r.nodes = sc.rejected[f];
    const NodeEval eval(cycle, static_cast<uint32_t>(sc.example[f]));
    r.example_node_id = eval.node().id;
    if (f == nf) {
      r.example_reason = explain_no_fit(cycle, eval.node());
    } else if (sc.center_fail[eval.node().center] == static_cast<int>(f)) {
      r.example_reason = filters[f]->center_reason(cycle, eval.center());
    } else {
      r.example_reason = filters[f]->reason(cycle, eval);
    }
    out.rejections.push_back(std::move(r));
  }
  std::stable_sort(out.rejections.begin(), out.rejections.end(),
                   [](const Rejection& a, const Rejection& b) { return a.nodes > b.nodes; });
  if (sc.feasible.empty()) return out;

  // Normalise, weigh, pick.
  const size_t m = sc.feasible.size();
  const std::vector<double>& raw = sc.raw;
  std::vector<double>& norm = sc.norm;
  norm.assign(raw.begin(), raw.end());
  for (size_t s = 0; s < ns; ++s) {
    if (!scores[s].plugin->normalize()) continue;
    double lo = raw[s], hi = raw[s];
    for (size_t j = 0; j < m; ++j) {
      lo = std::min(lo, raw[j * ns + s]);
      hi = std::max(hi, raw[j * ns + s]);
    }
    for (size_t j = 0; j < m; ++j) {
      norm[j * ns + s] = hi > lo ? 100.0 * (raw[j * ns + s] - lo) / (hi - lo) : 100.0;
    }
  }
  size_t best = 0;
  double best_total = -1;
  for (size_t j = 0; j < m; ++j) {
    double total = 0;
    for (size_t s = 0; s < ns; ++s) total += norm[j * ns + s] * scores[s].weight;
    if (total > best_total ||
        (total == best_total && rank[sc.feasible[j]] < rank[sc.feasible[best]])) {
      best = j;
      best_total = total;
    }
  }

  const Node& node = nodes[sc.feasible[best]];
  const Center& center = snapshot.centers()[node.center];
  Decision d;
  d.node_id = node.id;
  d.node_index = sc.feasible[best];
  d.node_name = node.name;
  d.center_id = center.id;
  d.center_name = center.name;
  d.assignment = *plan_assignment(cycle, node, center);  // as when it was scored
  d.total = best_total;
  for (size_t s = 0; s < ns; ++s) {
    d.scores.push_back({std::string(scores[s].plugin->name()), raw[best * ns + s], norm[best * ns + s],
                        scores[s].weight});
  }
  out.decision = std::move(d);
  return out;
}

std::string Placement::why() const {
  if (!error.empty()) return "invalid request: " + error;
  if (decision) {
    const Decision& d = *decision;
    const Assignment& a = d.assignment;
    std::string s = "node " + (d.node_name.empty() ? d.node_id : d.node_name) + " in center " +
                    (d.center_name.empty() ? d.center_id : d.center_name) + " (";
    if (a.kind == DeviceKind::kGpu) {
      s += "GPU " + std::to_string(a.gpu_index) + ", ";
    } else {
      s += std::to_string(a.cpu_cores) + " CPU cores, ";
    }
    s += format_bytes(a.memory_bytes, true) + "): score " + format_number(d.total, 1) + " =";
    for (size_t i = 0; i < d.scores.size(); ++i) {
      const ScoreLine& l = d.scores[i];
      s += (i == 0 ? " " : " + ") + l.plugin + " " + format_number(l.score, 1) + " x" +
           format_number(l.weight, 2);
    }
    s += "; " + std::to_string(nodes_feasible) + " of " + std::to_string(nodes_total) +
         " nodes feasible";
    if (nodes_evaluated < nodes_total) {
      s += " (" + std::to_string(nodes_evaluated) + " evaluated";
      if (nodes_skipped > 0) {
        s += ", " + std::to_string(nodes_skipped) + " skipped: their centers lack the free capacity";
      }
      s += ")";
    }
    return s;
  }
  std::string s = "0/" + std::to_string(nodes_total) + " nodes available";
  if (nodes_total == 0) return s + ": the pool has no nodes";
  s += ":";
  for (size_t i = 0; i < rejections.size(); ++i) {
    const Rejection& r = rejections[i];
    s += (i == 0 ? " " : "; ") + std::to_string(r.nodes) + (r.nodes == 1 ? " node: " : " nodes: ") +
         r.example_reason;
  }
  return s;
}

Placement place(const Snapshot& snapshot, const ReplicaRequest& request) {
  static const Framework framework = Framework::create(default_profile()).value();
  return framework.place(snapshot, request);
}

Status reserve(Snapshot& snapshot, const ReplicaRequest& request, const Decision& decision) {
  const auto& nodes = snapshot.nodes();
  if (decision.node_index < nodes.size() && nodes[decision.node_index].id == decision.node_id) {
    return snapshot.reserve_at(request, decision.node_index, decision.assignment);
  }
  return snapshot.reserve(request, decision.node_id, decision.assignment);
}

bool unreserve(Snapshot& snapshot, std::string_view replica_id) {
  return snapshot.unreserve(replica_id);
}

}  // namespace scn::scheduler
