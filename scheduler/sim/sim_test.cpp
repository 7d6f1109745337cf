#include "scheduler/sim/sim.h"

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "scheduler/sim/sim_pool.h"
#include "tests/testing.h"

namespace scn::scheduler::sim {
namespace {

const catalog::Catalog& demo_catalog() {
  static const catalog::Catalog c = [] {
    auto r = load_sim_catalog("");
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    return *r;
  }();
  return c;
}

TEST_CASE("sim: a small fixed-seed run has no invariant violation and is deterministic") {
  SimOptions o;
  o.centers = 6;
  o.nodes_per_center = 20;
  o.events = 3000;
  o.seed = 7;
  o.max_feasible_nodes = 16;
  auto a = run_sim(o, demo_catalog());
  REQUIRE(a.is_ok());
  CHECK(a->violations.empty());
  CHECK(a->invariant_checks == 4);
  CHECK(a->nodes == 120);
  CHECK(a->gpus == 100 * 8);  // center 5 is CPU-only
  CHECK(a->placements > 1000);
  CHECK(a->failures > 0);
  CHECK(a->recoveries > 0);
  CHECK(a->gpu_memory_utilisation > 0);
  CHECK(a->example_why_here.find("score") != std::string::npos);
  auto b = run_sim(o, demo_catalog());
  REQUIRE(b.is_ok());
  CHECK(a->to_text(false) == b->to_text(false));
  CHECK(a->digest == b->digest);
  o.seed = 8;
  auto c = run_sim(o, demo_catalog());
  REQUIRE(c.is_ok());
  CHECK(c->digest != a->digest);
  CHECK(c->violations.empty());
  // Every line is labelled simulated (or timing ... simulated pool).
  const std::string text = a->to_text(true);
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    CAPTURE(line);
    CHECK(line.find("simulated") != std::string::npos);
    start = end + 1;
  }
}

TEST_CASE("sim: saturating a small pool fills GPU memory with bin-packing") {
  SimOptions o;
  o.centers = 2;
  o.nodes_per_center = 10;
  o.events = 200;
  o.seed = 3;
  o.max_feasible_nodes = 0;
  o.saturate = true;
  auto r = run_sim(o, demo_catalog());
  REQUIRE(r.is_ok());
  CHECK(r->violations.empty());
  MESSAGE("saturation utilisation ", r->saturation_utilisation);
  CHECK(r->saturation_utilisation > 0.9);
}

TEST_CASE("sim: the GPU mix") {
  struct Case {
    const char* text;
    size_t models;
    const char* error;
  };
  const Case cases[] = {
      {"H200:1,H100:1,A100-80G:1,Ascend-910B:1,L40S:1", 5, ""},
      {"h200:3", 1, ""},
      {"L40S", 1, ""},
      {"V100:1", 0, "--gpu-mix entry 'V100:1': unknown GPU"},
      {"H200:0", 0, "--gpu-mix entry 'H200:0': weight must be an integer >= 1"},
      {"H200:x", 0, "weight must be an integer >= 1"},
      {"", 0, "--gpu-mix names no GPU"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto r = parse_gpu_mix(c.text);
    if (c.models > 0) {
      REQUIRE(r.is_ok());
      CHECK(r->size() == c.models);
    } else {
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().message().find(c.error) != std::string::npos);
    }
  }
}

TEST_CASE("sim: bad options are errors") {
  SimOptions o;
  o.centers = 0;
  CHECK(run_sim(o, demo_catalog()).status().code() == Code::kInvalidArgument);
  o.centers = 2;
  o.gpu_mix = "TPU";
  CHECK(run_sim(o, demo_catalog()).status().code() == Code::kInvalidArgument);
  CHECK(run_sim(SimOptions{}, catalog::Catalog{}).status().code() == Code::kInvalidArgument);
}

// Runs `command`, returns (exit status, stdout).
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* f = ::popen(command.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int status = ::pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_CASE("scn sim: identical output for identical seeds, zero violations") {
  const std::string bin = scn::testing::scn_binary();
  if (bin.empty() || !std::filesystem::exists(bin)) {
    MESSAGE("SKIPPED: the scn binary is not built");
    return;
  }
  const std::string cmd = bin + " sim --centers 4 --nodes-per-center 10 --events 800 --seed 5 --no-timings";
  const auto a = run(cmd);
  const auto b = run(cmd);
  CHECK(a.first == 0);
  CHECK(a.second == b.second);
  CHECK(a.second.find("simulated invariant violations: 0 (1 checks)") != std::string::npos);
  CHECK(a.second.find("timing") == std::string::npos);
  const auto c = run(bin + " sim --centers 4 --nodes-per-center 10 --events 800 --seed 6 --no-timings");
  CHECK(c.first == 0);
  CHECK(c.second != a.second);
  CHECK(run(bin + " sim --gpu-mix TPU:1 2>/dev/null").first == 2);
}

}  // namespace
}  // namespace scn::scheduler::sim
