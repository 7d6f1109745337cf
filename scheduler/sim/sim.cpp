#include "scheduler/sim/sim.h"

#include <algorithm>
#include <ctime>
#include <cstdio>

#include "scheduler/assignment.h"
#include "scheduler/framework.h"
#include "scheduler/plugins/registry.h"
#include "scheduler/queue_sort.h"
#include "scheduler/sim/sim_pool.h"

namespace scn::scheduler::sim {
namespace {

constexpr int kTenants = 200;
constexpr int64_t kEventMs = 100;  // simulated time between events
constexpr uint32_t kContexts[] = {4096, 8192, 16384, 32768};

// CPU time of the calling thread in microseconds: a decision's cost on one
// core, unaffected by other processes sharing the machine.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

uint64_t fnv_mix(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct Tenant {
  std::string id;
  std::string home;  // province
  std::vector<std::string> allowed_regions;
};

struct Service {
  ReplicaRequest request;  // the template; replica_id is set per decision
  int tenant = 0;
  int wanted = 0;
  bool alive = true;
  std::vector<int> replicas;  // indices into replicas_, oldest first
};

struct Replica {
  std::string id;
  int service = 0;
  int node = -1;  // -1: pending
  Assignment assignment;
  int64_t created_ms = 0;
  bool has_reason = false;
  bool removed = false;
  // Backoff of an unschedulable replica (as Kubernetes' unschedulable queue):
  // retried no earlier than event `retry_at`, the wait doubling up to 1,024.
  int retry_at = 0;
  int backoff = 1;
};

class Simulation {
 public:
  Simulation(const SimOptions& o, std::vector<SimModel> models, Snapshot snapshot, Framework framework,
             Rng rng)
      : o_(o), models_(std::move(models)), snap_(std::move(snapshot)), fw_(std::move(framework)),
        rng_(rng), node_replicas_(snap_.nodes().size()), lost_at_ms_(snap_.nodes().size(), -1) {}

  SimResult run();

 private:
  void make_tenants();
  int launch(bool gpu_only);
  void scale(int service, int wanted);
  void stop(int service);
  void fail_node();
  void recover_node();
  int new_replica(int service);
  void remove_replica(int replica);
  void unbind(int replica);
  // Places queue_ (and, when `retry`, some older pending). Returns placements.
  int cycle(bool retry);
  void check();
  void finish(SimResult& r);

  const SimOptions& o_;
  std::vector<SimModel> models_;
  Snapshot snap_;
  Framework fw_;
  Rng rng_;
  std::vector<Tenant> tenants_;
  std::vector<Service> services_;
  std::vector<Replica> replicas_;
  std::vector<std::vector<int>> node_replicas_;
  std::vector<int64_t> lost_at_ms_;
  std::vector<int> queue_;    // new pending replicas of this event
  std::vector<int> pending_;  // replicas left pending by earlier cycles
  int64_t now_ms_ = 0;
  int event_ = 0;
  SimResult r_;
  std::vector<double> latencies_;
  double seconds_ = 0;
  int64_t home_placed_ = 0;
};

void Simulation::make_tenants() {
  const int centers = static_cast<int>(snap_.centers().size());
  for (int t = 0; t < kTenants; ++t) {
    Tenant tenant;
    tenant.id = "tenant-" + std::to_string(t);
    tenant.home = snap_.centers()[rng_.below(centers)].region;
    if (rng_.chance(15)) {  // data residency: home and two other provinces
      tenant.allowed_regions = {tenant.home, snap_.centers()[rng_.below(centers)].region,
                                snap_.centers()[rng_.below(centers)].region};
    }
    tenants_.push_back(std::move(tenant));
  }
}

int Simulation::new_replica(int service) {
  Replica rep;
  rep.id = "replica-" + std::to_string(replicas_.size());
  rep.service = service;
  rep.created_ms = now_ms_;
  replicas_.push_back(std::move(rep));
  const int index = static_cast<int>(replicas_.size()) - 1;
  services_[service].replicas.push_back(index);
  queue_.push_back(index);
  return index;
}

int Simulation::launch(bool gpu_only) {
  Service s;
  s.tenant = static_cast<int>(rng_.below(kTenants));
  const Tenant& tenant = tenants_[s.tenant];
  const SimModel& m = models_[rng_.below(static_cast<uint32_t>(models_.size()))];
  ReplicaRequest& req = s.request;
  req.service_id = "service-" + std::to_string(services_.size());
  req.tenant_id = tenant.id;
  req.tenant_region = tenant.home;
  req.allowed_regions = tenant.allowed_regions;
  req.model = {m.key, m.weight_bytes, m.kv_bytes_per_token,
               std::min(m.max_context, kContexts[rng_.below(4)])};
  const bool small = m.weight_bytes < 2 * kGiB;
  req.device_kind = !gpu_only && small && rng_.chance(40) ? DeviceKind::kCpu : DeviceKind::kGpu;
  req.cpu_cores = req.device_kind == DeviceKind::kCpu ? 8 : 1;
  if (req.device_kind == DeviceKind::kGpu && rng_.chance(15)) {
    // A tenant restricts to a GPU model its model fits on (as one would).
    struct Known {
      const char* name;
      uint64_t memory;
    };
    static constexpr Known kModels[] = {{"H200", 141'000'000'000ull}, {"H100", 80 * kGiB},
                                        {"A100-80G", 80 * kGiB}, {"Ascend-910B", 64 * kGiB}, {"L40S", 48 * kGiB}};
    const Known& k = kModels[rng_.below(5)];
    if (replica_memory_bytes(req.model, DeviceKind::kGpu) <= k.memory) req.device_models = {k.name};
  }
  if (rng_.chance(5)) req.price_cap_per_hour = 2.0 + rng_.below(10);
  req.priority = rng_.chance(10) ? 10 : 0;
  req.created_at_ms = now_ms_;
  s.wanted = 1 + static_cast<int>(rng_.below(4));
  services_.push_back(std::move(s));
  const int index = static_cast<int>(services_.size()) - 1;
  for (int i = 0; i < services_[index].wanted; ++i) new_replica(index);
  ++r_.launches;
  return index;
}

void Simulation::unbind(int replica) {
  Replica& rep = replicas_[replica];
  if (rep.node < 0) return;
  (void)unreserve(snap_, rep.id);
  auto& on_node = node_replicas_[rep.node];
  on_node.erase(std::find(on_node.begin(), on_node.end(), replica));
  rep.node = -1;
}

void Simulation::remove_replica(int replica) {
  unbind(replica);
  replicas_[replica].removed = true;
  auto& list = services_[replicas_[replica].service].replicas;
  list.erase(std::find(list.begin(), list.end(), replica));
}

void Simulation::scale(int service, int wanted) {
  Service& s = services_[service];
  ++r_.scale_changes;
  while (static_cast<int>(s.replicas.size()) < wanted) new_replica(service);
  while (static_cast<int>(s.replicas.size()) > wanted) {
    // Pending ones go first, then the newest.
    int victim = s.replicas.back();
    for (int rep : s.replicas) {
      if (replicas_[rep].node < 0) victim = rep;
    }
    remove_replica(victim);
  }
  s.wanted = wanted;
}

void Simulation::stop(int service) {
  ++r_.stops;
  Service& s = services_[service];
  while (!s.replicas.empty()) remove_replica(s.replicas.back());
  s.alive = false;
  s.wanted = 0;
}

void Simulation::fail_node() {
  const auto n = static_cast<uint32_t>(snap_.nodes().size());
  for (int attempt = 0; attempt < 10; ++attempt) {
    const uint32_t i = rng_.below(n);
    if (!snap_.nodes()[i].alive) continue;
    ++r_.failures;
    (void)snap_.set_node_state(snap_.nodes()[i].id, false, false);
    lost_at_ms_[i] = now_ms_;
    const std::vector<int> moved = node_replicas_[i];
    for (int rep : moved) {  // back to pending, replaced in this cycle
      unbind(rep);
      queue_.push_back(rep);
    }
    return;
  }
}

void Simulation::recover_node() {
  const auto n = static_cast<uint32_t>(snap_.nodes().size());
  for (int attempt = 0; attempt < 20; ++attempt) {
    const uint32_t i = rng_.below(n);
    if (snap_.nodes()[i].alive) continue;
    ++r_.recoveries;
    (void)snap_.set_node_state(snap_.nodes()[i].id, true, false);
    lost_at_ms_[i] = -1;
    return;
  }
}

int Simulation::cycle(bool retry) {
  if (retry && !pending_.empty()) {
    std::vector<int> keep;
    int retried = 0;
    for (int rep : pending_) {
      if (replicas_[rep].removed || replicas_[rep].node >= 0) continue;
      if (retried < o_.retry_per_cycle && replicas_[rep].retry_at <= event_) {
        queue_.push_back(rep);
        ++retried;
      } else {
        keep.push_back(rep);
      }
    }
    pending_.swap(keep);
  }
  std::vector<int> queue;
  queue.swap(queue_);
  // Queue sort over the replicas' requests (priority, then age).
  std::vector<std::pair<ReplicaRequest, int>> order;
  order.reserve(queue.size());
  for (int rep : queue) {
    if (replicas_[rep].removed || replicas_[rep].node >= 0) continue;
    ReplicaRequest key;
    key.replica_id = replicas_[rep].id;
    key.priority = services_[replicas_[rep].service].request.priority;
    key.created_at_ms = replicas_[rep].created_ms;
    order.emplace_back(std::move(key), rep);
  }
  sort_queue(order, [](const auto& p) -> const ReplicaRequest& { return p.first; });

  int placed = 0;
  for (const auto& [key, rep_index] : order) {
    Replica& rep = replicas_[rep_index];
    ReplicaRequest& req = services_[rep.service].request;
    req.replica_id = rep.id;
    const double t0 = thread_cpu_us();
    Placement p = fw_.place(snap_, req);
    Status st = p.scheduled() ? reserve(snap_, req, *p.decision) : Status::ok();
    const double us = thread_cpu_us() - t0;
    latencies_.push_back(us);
    seconds_ += us / 1e6;
    ++r_.decisions;
    if (p.scheduled() && st.is_ok()) {
      ++r_.placements;
      ++placed;
      rep.node = static_cast<int>(p.decision->node_index);
      rep.assignment = p.decision->assignment;
      rep.has_reason = false;
      node_replicas_[rep.node].push_back(rep_index);
      if (snap_.centers()[snap_.nodes()[rep.node].center].region == req.tenant_region) ++home_placed_;
      r_.digest = fnv_mix(r_.digest, p.decision->node_id);
      r_.digest = fnv_mix(r_.digest, std::to_string(rep.assignment.gpu_index));
      if (r_.example_why_here.empty()) r_.example_why_here = p.why();
    } else {
      ++r_.unschedulable;
      rep.has_reason = !p.rejections.empty() || !p.error.empty() || !st.is_ok();
      rep.retry_at = event_ + rep.backoff;
      rep.backoff = std::min(rep.backoff * 2, 1024);
      pending_.push_back(rep_index);
      r_.digest = fnv_mix(r_.digest, "pending");
      if (r_.example_why_pending.empty()) r_.example_why_pending = p.why();
    }
  }
  return placed;
}

void Simulation::check() {
  InvariantInput in;
  in.lost_ttl_ms = o_.lost_ttl_ms;
  in.nodes = capacity_of(snap_);
  for (size_t i = 0; i < in.nodes.size(); ++i) {
    if (lost_at_ms_[i] >= 0) in.nodes[i].lost_for_ms = now_ms_ - lost_at_ms_[i];
  }
  for (const Replica& rep : replicas_) {
    if (rep.removed || rep.node < 0) continue;
    in.replicas.push_back({rep.id, services_[rep.service].request.service_id, snap_.nodes()[rep.node].id,
                           rep.assignment.kind, rep.assignment.gpu_index, rep.assignment.memory_bytes});
  }
  for (const Service& s : services_) {
    if (!s.alive) continue;
    ServiceBounds b{s.request.service_id, s.wanted, s.wanted, 0, false};
    for (int rep : s.replicas) {
      if (replicas_[rep].node >= 0) ++b.replicas;
      b.has_reason = b.has_reason || replicas_[rep].has_reason;
    }
    in.services.push_back(std::move(b));
  }
  ++r_.invariant_checks;
  for (Violation& v : check_invariants(in)) r_.violations.push_back(std::move(v));
}

void Simulation::finish(SimResult& r) {
  uint64_t total = 0, reserved = 0, free_total = 0, fragments = 0;
  for (const Node& n : snap_.nodes()) {
    if (!n.alive) continue;  // a failed node holds nothing and offers nothing
    for (const Gpu& g : n.gpus) {
      total += g.memory_bytes;
      reserved += g.memory_bytes - g.free_bytes;
      free_total += g.free_bytes;
      if (g.free_bytes < r.fragment_bytes) fragments += g.free_bytes;
    }
  }
  r.gpu_memory_utilisation = total > 0 ? static_cast<double>(reserved) / static_cast<double>(total) : 0;
  r.fragmentation = free_total > 0 ? static_cast<double>(fragments) / static_cast<double>(free_total) : 0;
  for (const Replica& rep : replicas_) {
    if (rep.removed) continue;
    if (rep.node >= 0) {
      ++r.live_replicas;
    } else {
      ++r.pending_replicas;
    }
  }
}

SimResult Simulation::run() {
  r_.nodes = static_cast<int>(snap_.nodes().size());
  for (const Node& n : snap_.nodes()) r_.gpus += static_cast<int>(n.gpus.size());
  r_.digest = 1469598103934665603ull;
  // Fragments: free GPU memory too small for a 7B Q4_K_M replica at 8k context.
  r_.fragment_bytes = 8 * kGiB;
  for (const SimModel& m : models_) {
    if (m.key == "qwen2.5-7b-instruct/Q4_K_M") {
      r_.fragment_bytes = replica_memory_bytes({m.key, m.weight_bytes, m.kv_bytes_per_token, 8192}, DeviceKind::kGpu);
    }
  }
  const double start_us = thread_cpu_us();
  make_tenants();
  latencies_.reserve(static_cast<size_t>(o_.events) * 3);
  for (int e = 0; e < o_.events; ++e) {
    now_ms_ += kEventMs;
    event_ = e;
    ++r_.events;
    const uint32_t roll = rng_.below(100);
    const int live = static_cast<int>(services_.size());
    bool freed = false;
    if (roll < 50 || live == 0) {
      launch(false);
    } else if (roll < 75) {
      const int s = static_cast<int>(rng_.below(live));
      if (services_[s].alive) {
        const int wanted = 1 + static_cast<int>(rng_.below(6));
        freed = wanted < services_[s].wanted;
        scale(s, wanted);
      }
    } else if (roll < 85) {
      const int s = static_cast<int>(rng_.below(live));
      if (services_[s].alive) {
        stop(s);
        freed = true;
      }
    } else if (roll < 93) {
      fail_node();
    } else {
      recover_node();
      freed = true;
    }
    cycle(freed);
    if ((e + 1) % 1000 == 0) check();
  }
  check();
  const double event_phase_s = (thread_cpu_us() - start_us) / 1e6;
  SimResult r = r_;  // the event phase; saturation below only adds its figure and checks
  r.event_phase_seconds = event_phase_s;
  finish(r);
  if (!latencies_.empty()) {
    std::vector<double> sorted = latencies_;
    std::sort(sorted.begin(), sorted.end());
    r.p50_us = sorted[sorted.size() / 2];
    r.p99_us = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
    r.max_us = sorted.back();
  }
  r.seconds = seconds_;
  r.placements_per_second = seconds_ > 0 ? static_cast<double>(r.decisions) / seconds_ : 0;
  r.placed_per_second = seconds_ > 0 ? static_cast<double>(r.placements) / seconds_ : 0;
  r.preferred_region_share = r.placements > 0 ? static_cast<double>(home_placed_) / static_cast<double>(r.placements) : 0;
  if (o_.saturate) {
    // GPU services only, until 1,000 launches in a row place nothing.
    int dry = 0;
    for (int k = 0; k < 5'000'000 && dry < 1000; ++k) {
      now_ms_ += kEventMs;
      launch(true);
      dry = cycle(false) > 0 ? 0 : dry + 1;
    }
    check();
    r.violations = r_.violations;
    r.invariant_checks = r_.invariant_checks;
    SimResult tmp;
    tmp.fragment_bytes = r.fragment_bytes;
    finish(tmp);
    r.saturation_utilisation = tmp.gpu_memory_utilisation;
  }
  return r;
}

}  // namespace

Result<SimResult> run_sim(const SimOptions& o, const catalog::Catalog& catalog) {
  if (o.centers < 1 || o.nodes_per_center < 1 || o.events < 0 || o.retry_per_cycle < 0) {
    return Status::invalid_argument("sim needs centers >= 1, nodes per center >= 1, events >= 0");
  }
  SCN_ASSIGN_OR_RETURN(auto mix, parse_gpu_mix(o.gpu_mix));
  std::vector<SimModel> models = sim_models(catalog);
  if (models.empty()) return Status::invalid_argument("the catalog has no model files");
  std::vector<std::string> keys;
  for (const SimModel& m : models) keys.push_back(m.key);
  Rng rng(o.seed);
  Snapshot snap = make_national_pool(o.centers, o.nodes_per_center, mix, rng, keys);
  Profile profile = default_profile();
  profile.max_feasible_nodes = o.max_feasible_nodes;
  for (WeightedScore& w : profile.scores) {
    if (w.plugin->name() == "latency") w.weight = o.latency_weight;
  }
  SCN_ASSIGN_OR_RETURN(auto fw, Framework::create(std::move(profile)));
  Simulation sim(o, std::move(models), std::move(snap), std::move(fw), rng);
  return sim.run();
}

}  // namespace scn::scheduler::sim
