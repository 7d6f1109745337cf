// `scn sim`: options, the catalog, the report (sim.h).
#include <sched.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/config.h"
#include "scheduler/sim/sim.h"
#include "scheduler/sim/sim_cli.h"

namespace scn::scheduler::sim {
namespace {

std::string pct(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * x);
  return buf;
}

// Pins the process to the CPU it runs on now (the sim is single-threaded:
// its timings are one core's). Returns that CPU, or -1 when it could not.
int pin_to_current_cpu() {
  const int cpu = sched_getcpu();
  if (cpu < 0) return -1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
}

std::string pinning(int cpu) {
  return cpu >= 0 ? "single-threaded, pinned to CPU " + std::to_string(cpu) : std::string("single-threaded, not pinned");
}

}  // namespace

std::string SimResult::to_text(bool timings) const {
  char buf[1024];
  std::string s;
  std::snprintf(buf, sizeof buf,
                "simulated pool: %d nodes, %d GPUs\n"
                "simulated events: %d (launches %d, scale changes %d, stops %d, node failures %d, "
                "recoveries %d)\n"
                "simulated decisions: %lld (placed %lld, left pending %lld); replicas at the end: %d live, "
                "%d pending\n",
                nodes, gpus, events, launches, scale_changes, stops, failures, recoveries,
                static_cast<long long>(decisions), static_cast<long long>(placements),
                static_cast<long long>(unschedulable), live_replicas, pending_replicas);
  s += buf;
  if (timings) {
    std::snprintf(buf, sizeof buf,
                  "timing (simulated pool, one core): %.0f placements/s; decision latency p50 %.1f us, "
                  "p99 %.1f us, max %.1f us (%.3f s in place+reserve)\n"
                  "timing counted (simulated pool): the scheduling thread's CPU time in place()+reserve() over all %lld "
                  "decisions (%.0f/s counting placed ones only); the whole event phase took %.3f s of CPU "
                  "(%.0f%% in place+reserve, the rest the sim's events, bookkeeping and invariant checks)\n",
                  placements_per_second, p50_us, p99_us, max_us, seconds, static_cast<long long>(decisions),
                  placed_per_second, event_phase_seconds,
                  event_phase_seconds > 0 ? 100.0 * seconds / event_phase_seconds : 0.0);
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "simulated GPU memory utilisation: %s; fragmentation: %s of free GPU memory in pieces < %.1f GiB\n"
                "simulated share placed in the tenant's preferred region: %s\n",
                pct(gpu_memory_utilisation).c_str(), pct(fragmentation).c_str(),
                static_cast<double>(fragment_bytes) / (1u << 30), pct(preferred_region_share).c_str());
  s += buf;
  if (saturation_utilisation >= 0) {
    s += "simulated GPU memory utilisation at saturation (bin-packing): " + pct(saturation_utilisation) + "\n";
  }
  std::snprintf(buf, sizeof buf, "simulated invariant violations: %zu (%d checks)\nsimulated digest: %016llx\n",
                violations.size(), invariant_checks, static_cast<unsigned long long>(digest));
  s += buf;
  for (size_t i = 0; i < violations.size() && i < 20; ++i) {
    s += "  violation " + violations[i].kind + " " + violations[i].subject + ": " + violations[i].detail + "\n";
  }
  if (!example_why_here.empty()) s += "simulated example why here: " + example_why_here + "\n";
  if (!example_why_pending.empty()) s += "simulated example why pending: " + example_why_pending + "\n";
  return s;
}

Result<catalog::Catalog> load_sim_catalog(const std::string& path) {
  if (!path.empty()) return catalog::load_catalog_file(path);
  std::vector<std::filesystem::path> candidates;
  if (const char* src = std::getenv("SCN_SOURCE_DIR")) {
    candidates.push_back(std::filesystem::path(src) / "catalog/demo_catalog.json");
  }
  candidates.emplace_back("catalog/demo_catalog.json");
  char exe[PATH_MAX];
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    candidates.push_back(std::filesystem::path(exe).parent_path().parent_path() / "catalog/demo_catalog.json");
  }
  std::error_code ec;
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c, ec)) return catalog::load_catalog_file(c.string());
  }
  return Status::not_found("demo catalog not found (give --catalog PATH, or set SCN_SOURCE_DIR)");
}

int sim_main(int argc, char** argv) {
  SimOptions o;
  int64_t seed = static_cast<int64_t>(o.seed);
  int max_feasible = static_cast<int>(o.max_feasible_nodes);
  bool sweep = false, no_timings = false, no_pin = false;
  std::string catalog_path;
  common::OptionSet opts("scn sim",
                         "the real placement framework over a SIMULATED national pool: placements/s, "
                         "latency, utilisation, invariants");
  opts.add("centers", &o.centers, "centers, one per province")
      .add("nodes-per-center", &o.nodes_per_center, "nodes in each center")
      .add("seed", &seed, "seed of the pool and the event stream")
      .add("events", &o.events, "launches, scale changes, stops, node failures and recoveries")
      .add("gpu-mix", &o.gpu_mix, "GPU models of GPU nodes with weights: H200:1,H100:1,A100-80G:1,...")
      .add("max-feasible-nodes", &max_feasible, "stop scoring after this many feasible nodes (0: all)")
      .add("latency-weight", &o.latency_weight, "weight of the latency score (tenant's province)")
      .add("catalog", &catalog_path, "catalog JSON (default: the demo catalog)")
      .flag("saturate", &o.saturate, "then launch GPU services until the pool is full")
      .flag("sweep", &sweep, "placements/s at 1,000 / 15,000 / 60,000 nodes (30 centers)")
      .flag("no-timings", &no_timings, "omit the timing lines (output identical for identical seeds)")
      .flag("no-pin", &no_pin, "do not pin the (single-threaded) sim to the CPU it starts on");
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn sim: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (seed < 0 || max_feasible < 0 || !(o.latency_weight > 0)) {
    std::fprintf(stderr, "scn sim: --seed, --max-feasible-nodes must be >= 0, --latency-weight > 0\n");
    return 2;
  }
  o.seed = static_cast<uint64_t>(seed);
  o.max_feasible_nodes = static_cast<uint32_t>(max_feasible);
  auto catalog = load_sim_catalog(catalog_path);
  if (!catalog.is_ok()) {
    std::fprintf(stderr, "scn sim: %s\n", catalog.status().to_string().c_str());
    return 1;
  }
  const int cpu = no_pin ? -1 : pin_to_current_cpu();
  if (sweep) {
    std::printf("simulated sweep: 30 centers, seed %llu, %d events, max feasible nodes %u (%s)\n",
                static_cast<unsigned long long>(o.seed), o.events, o.max_feasible_nodes, pinning(cpu).c_str());
    size_t violations = 0;
    for (int total : {1000, 15000, 60000}) {
      SimOptions s = o;
      s.centers = 30;
      s.nodes_per_center = (total + 29) / 30;
      s.saturate = false;
      auto r = run_sim(s, *catalog);
      if (!r.is_ok()) {
        std::fprintf(stderr, "scn sim: %s\n", r.status().to_string().c_str());
        return 2;
      }
      violations += r->violations.size();
      std::printf("simulated %6d nodes: %8.0f placements/s, p50 %6.1f us, p99 %6.1f us, %lld decisions, "
                  "%zu violations, digest %016llx\n",
                  r->nodes, r->placements_per_second, r->p50_us, r->p99_us,
                  static_cast<long long>(r->decisions), r->violations.size(),
                  static_cast<unsigned long long>(r->digest));
      std::fflush(stdout);
    }
    return violations == 0 ? 0 : 1;
  }
  auto r = run_sim(o, *catalog);
  if (!r.is_ok()) {
    std::fprintf(stderr, "scn sim: %s\n", r.status().to_string().c_str());
    return 2;
  }
  std::printf("simulated run: %d centers x %d nodes, seed %llu, max feasible nodes %u, gpu mix %s%s\n%s",
              o.centers, o.nodes_per_center, static_cast<unsigned long long>(o.seed), o.max_feasible_nodes,
              o.gpu_mix.c_str(), no_timings ? "" : (" (" + pinning(cpu) + ")").c_str(),
              r->to_text(!no_timings).c_str());
  return r->violations.empty() ? 0 : 1;
}

}  // namespace scn::scheduler::sim
