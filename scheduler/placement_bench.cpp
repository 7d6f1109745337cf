#include "scheduler/placement_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "scheduler/assignment.h"
#include "scheduler/framework.h"
#include "scheduler/plugins/registry.h"

namespace scn::scheduler {
namespace {

// splitmix64: a fixed generator, so pools and request streams are identical
// on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  bool chance(uint32_t percent) { return below(100) < percent; }

 private:
  uint64_t s_;
};

constexpr const char* kProvinces[] = {
    "beijing", "tianjin", "hebei", "shanxi", "inner-mongolia", "liaoning", "jilin", "heilongjiang",
    "shanghai", "jiangsu", "zhejiang", "anhui", "fujian", "jiangxi", "shandong", "henan",
    "hubei", "hunan", "guangdong", "guangxi", "hainan", "chongqing", "sichuan", "guizhou",
    "yunnan", "tibet", "shaanxi", "gansu", "qinghai", "ningxia", "xinjiang"};
constexpr int kProvinceCount = sizeof(kProvinces) / sizeof(kProvinces[0]);

struct GpuKind {
  const char* model;
  uint64_t memory;
};
constexpr GpuKind kGpuKinds[] = {
    {"H200", 141'000'000'000ull}, {"A100-80G", 80 * kGiB}, {"Ascend-910B", 64 * kGiB}, {"L40S", 48 * kGiB}};

// Real sizes (Q4_K_M GGUF tensor bytes; KV bytes per token at f16 =
// layers x KV heads x head dim x 2 x 2).
struct CatalogModel {
  const char* key;
  uint64_t weights;
  uint64_t kv_per_token;
  uint32_t context;
};
constexpr CatalogModel kModels[] = {
    {"stories260K", 1'185'000ull, 5 * 4 * 8 * 2 * 4, 512},
    {"qwen2.5-0.5b-instruct-q4_k_m", 397'800'000ull, 24 * 2 * 64 * 2 * 2, 8192},
    {"qwen2.5-7b-instruct-q4_k_m", 4'683'000'000ull, 28 * 4 * 128 * 2 * 2, 8192},
    {"llama-3.1-8b-instruct-q4_k_m", 4'920'000'000ull, 32 * 8 * 128 * 2 * 2, 8192},
    {"deepseek-r1-distill-qwen-14b-q4_k_m", 8'990'000'000ull, 48 * 8 * 128 * 2 * 2, 8192},
    {"qwen2.5-32b-instruct-q4_k_m", 19'850'000'000ull, 64 * 8 * 128 * 2 * 2, 8192},
    {"llama-3.3-70b-instruct-q4_k_m", 42'520'000'000ull, 80 * 8 * 128 * 2 * 2, 8192},
};
constexpr int kModelCount = sizeof(kModels) / sizeof(kModels[0]);

uint64_t fnv_mix(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Snapshot make_synthetic_pool(int nodes, int centers, uint64_t seed) {
  Rng rng(seed);
  Snapshot snap;
  for (int c = 0; c < centers; ++c) {
    Center center;
    char id[32];
    std::snprintf(id, sizeof id, "center-%03d", c);
    center.id = id;
    center.name = std::string(kProvinces[c % kProvinceCount]) + "-" + std::to_string(c / kProvinceCount + 1);
    center.region = kProvinces[c % kProvinceCount];
    center.price_gpu_hour = 8.0 + 2.0 * rng.below(9);
    center.price_cpu_core_hour = 0.05 + 0.01 * rng.below(6);
    (void)snap.add_center(std::move(center));
  }
  for (int i = 0; i < nodes; ++i) {
    const int c = i % centers;
    Node n;
    char id[32];
    std::snprintf(id, sizeof id, "node-%06d", i);
    n.id = id;
    n.name = id;
    n.center_id = snap.centers()[c].id;
    n.simulated = true;
    n.labels["simulated"] = "true";
    n.cpu_device_id = 2 * i + 1;
    if (c % 6 == 5) {  // CPU-only center
      n.cpu_cores = n.free_cpu_cores = 96;
      n.ram_bytes = n.free_ram_bytes = 512 * kGiB;
    } else {
      n.cpu_cores = n.free_cpu_cores = 128;
      n.ram_bytes = n.free_ram_bytes = 1024 * kGiB;
      const GpuKind& k = kGpuKinds[(c + i / centers) % 4];
      for (int g = 0; g < 8; ++g) {
        n.gpus.push_back(
            {.free_bytes = k.memory, .memory_bytes = k.memory, .index = g, .device_id = 2 * i + 2, .model = k.model});
      }
    }
    for (int m = 0; m < kModelCount; ++m) {
      if (rng.chance(10)) n.models.push_back(kModels[m].key);
    }
    (void)snap.add_node(std::move(n));
  }
  return snap;
}

Result<PlacementBenchResult> run_placement_bench(const PlacementBenchOptions& o) {
  if (o.nodes < 1 || o.centers < 1 || o.centers > o.nodes || o.replicas < 0) {
    return Status::invalid_argument("placement bench needs nodes >= centers >= 1 and replicas >= 0");
  }
  Snapshot snap = make_synthetic_pool(o.nodes, o.centers, o.seed);
  Profile profile = default_profile();
  profile.max_feasible_nodes = o.max_feasible_nodes;
  auto framework = Framework::create(std::move(profile));
  if (!framework.is_ok()) return framework.status();

  uint64_t total_gpu = 0;
  for (const Node& n : snap.nodes()) {
    for (const Gpu& g : n.gpus) total_gpu += g.memory_bytes;
  }

  Rng rng(o.seed ^ 0x5EED5EED5EED5EEDull);
  PlacementBenchResult r;
  r.digest = 1469598103934665603ull;
  std::vector<double> latencies;
  latencies.reserve(o.replicas);
  uint64_t gpu_reserved = 0;
  ReplicaRequest req;
  int service = 0, left_in_service = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < o.replicas; ++k) {
    if (left_in_service == 0) {  // a new service: its model and preferences
      ++service;
      left_in_service = 1 + static_cast<int>(rng.below(4));
      const CatalogModel& m = kModels[rng.below(kModelCount)];
      req.service_id = "svc-" + std::to_string(service);
      req.tenant_id = "tenant-" + std::to_string(rng.below(50));
      req.model = {m.key, m.weights, m.kv_per_token, m.context};
      req.device_kind = m.weights < kGiB && rng.chance(50) ? DeviceKind::kCpu : DeviceKind::kGpu;
      req.cpu_cores = req.device_kind == DeviceKind::kCpu ? 4 : 1;
      req.device_models.clear();
      if (rng.chance(20)) req.device_models.push_back(kGpuKinds[rng.below(4)].model);
      req.allowed_regions.clear();
      if (rng.chance(20)) {
        for (int i = 0; i < 3; ++i) req.allowed_regions.push_back(kProvinces[rng.below(kProvinceCount)]);
      }
      req.price_cap_per_hour.reset();
      if (rng.chance(10)) req.price_cap_per_hour = 0.2 + 0.1 * rng.below(10);
    }
    --left_in_service;
    req.replica_id = "replica-" + std::to_string(k);

    const auto t0 = std::chrono::steady_clock::now();
    Placement p = framework->place(snap, req);
    if (p.scheduled()) (void)reserve(snap, req, *p.decision);
    const auto t1 = std::chrono::steady_clock::now();
    latencies.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());

    ++r.decisions;
    if (p.scheduled()) {
      ++r.placed;
      const Assignment& a = p.decision->assignment;
      if (a.kind == DeviceKind::kGpu) gpu_reserved += a.memory_bytes;
      r.digest = fnv_mix(r.digest, p.decision->node_id);
      r.digest = fnv_mix(r.digest, std::to_string(a.gpu_index));
      if (r.example_why_here.empty()) r.example_why_here = p.why();
    } else {
      ++r.unschedulable;
      r.digest = fnv_mix(r.digest, "pending");
      if (r.example_why_pending.empty()) r.example_why_pending = p.why();
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.decisions_per_second = r.seconds > 0 ? r.decisions / r.seconds : 0;
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    r.p50_us = latencies[latencies.size() / 2];
    r.p99_us = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  r.gpu_memory_used = total_gpu > 0 ? static_cast<double>(gpu_reserved) / static_cast<double>(total_gpu) : 0;
  return r;
}

double run_placement_bench(int nodes, int replicas) {
  PlacementBenchOptions o;
  o.nodes = nodes;
  o.centers = std::min(30, std::max(1, nodes));
  o.replicas = replicas;
  auto r = run_placement_bench(o);
  return r.is_ok() ? r->decisions_per_second : 0;
}

std::string PlacementBenchResult::to_string() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%d decisions in %.3f s: %.0f decisions/s, p50 %.1f us, p99 %.1f us; "
                "%d placed, %d unschedulable; GPU memory reserved %.1f%%",
                decisions, seconds, decisions_per_second, p50_us, p99_us, placed, unschedulable,
                100.0 * gpu_memory_used);
  std::string s = buf;
  if (!example_why_here.empty()) s += "\n  why here:    " + example_why_here;
  if (!example_why_pending.empty()) s += "\n  why pending: " + example_why_pending;
  return s;
}

}  // namespace scn::scheduler
