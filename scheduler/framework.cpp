#include "scheduler/framework.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "scheduler/assignment.h"
#include "scheduler/plugins/registry.h"

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
  const auto& filters = profile_.filters;
  const auto& scores = profile_.scores;
  const size_t nf = filters.size();
  const size_t ns = scores.size();

  // Center-level verdicts: the first filter that rejects each center, or -1.
  std::vector<int> center_fail(snapshot.centers().size(), -1);
  for (size_t c = 0; c < center_fail.size(); ++c) {
    for (size_t f = 0; f < nf; ++f) {
      if (!filters[f]->filter_center(cycle, snapshot.centers()[c])) {
        center_fail[c] = static_cast<int>(f);
        break;
      }
    }
  }

  const uint32_t limit = profile_.max_feasible_nodes;
  // Index nf stands for the implicit fit rule.
  std::vector<uint32_t> rejected(nf + 1, 0);
  std::vector<int64_t> example(nf + 1, -1);
  const std::vector<uint32_t>& rank = snapshot.id_ranks();
  const size_t expect = limit > 0 ? std::min<size_t>(limit, n) : n;
  std::vector<uint32_t> feasible;
  std::vector<double> raw;  // feasible x ns
  feasible.reserve(expect);
  raw.reserve(expect * ns);

  const uint32_t start = (limit > 0 && n > 0) ? static_cast<uint32_t>(fnv1a(request.replica_id) % n) : 0;
  uint32_t evaluated = 0;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t i = start + k;
    if (i >= n) i -= n;
    ++evaluated;
    const NodeEval eval(cycle, i);
    int fail = center_fail[eval.node().center];
    if (fail < 0) {
      for (size_t f = 0; f < nf; ++f) {
        if (!filters[f]->filter(cycle, eval)) {
          fail = static_cast<int>(f);
          break;
        }
      }
    }
    if (fail < 0 && eval.assignment() == nullptr) fail = static_cast<int>(nf);
    if (fail >= 0) {
      rejected[fail]++;
      int64_t& ex = example[fail];
      if (ex < 0 || rank[i] < rank[ex]) ex = i;
      continue;
    }
    feasible.push_back(i);
    for (size_t s = 0; s < ns; ++s) raw.push_back(scores[s].plugin->score(cycle, eval));
    if (limit > 0 && feasible.size() >= limit) break;
  }
  out.nodes_evaluated = evaluated;
  out.nodes_feasible = static_cast<uint32_t>(feasible.size());

  // Why the others were rejected.
  for (size_t f = 0; f <= nf; ++f) {
    if (rejected[f] == 0) continue;
    Rejection r;
    r.filter = std::string(f < nf ? filters[f]->name() : kFitsRule);
    r.nodes = rejected[f];
    const NodeEval eval(cycle, static_cast<uint32_t>(example[f]));
    r.example_node_id = eval.node().id;
    if (f == nf) {
      r.example_reason = explain_no_fit(cycle, eval.node());
    } else if (center_fail[eval.node().center] == static_cast<int>(f)) {
      r.example_reason = filters[f]->center_reason(cycle, eval.center());
    } else {
      r.example_reason = filters[f]->reason(cycle, eval);
    }
    out.rejections.push_back(std::move(r));
  }
  std::stable_sort(out.rejections.begin(), out.rejections.end(),
                   [](const Rejection& a, const Rejection& b) { return a.nodes > b.nodes; });
  if (feasible.empty()) return out;

  // Normalise, weigh, pick.
  const size_t m = feasible.size();
  std::vector<double> norm(raw);
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
        (total == best_total && rank[feasible[j]] < rank[feasible[best]])) {
      best = j;
      best_total = total;
    }
  }

  const Node& node = nodes[feasible[best]];
  const Center& center = snapshot.centers()[node.center];
  Decision d;
  d.node_id = node.id;
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
    if (nodes_evaluated < nodes_total) s += " (" + std::to_string(nodes_evaluated) + " evaluated)";
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
  return snapshot.reserve(request, decision.node_id, decision.assignment);
}

bool unreserve(Snapshot& snapshot, std::string_view replica_id) {
  return snapshot.unreserve(replica_id);
}

}  // namespace scn::scheduler
