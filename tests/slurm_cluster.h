// Test support: a real single-machine Slurm cluster for a test
// (scripts/slurm-local.sh). Include from *_test.cpp only: it uses doctest.
//
// Contract:
//  - SlurmCluster::start() runs `scripts/slurm-local.sh start DIR` in a
//    fresh temporary DIR and sets SLURM_CONF in this process (so commands the
//    test and its children run talk to that cluster). When Slurm is not
//    installed (no slurmctld/slurmd/munged/sbatch in PATH) the calling test
//    FAILS if CI=true, and otherwise returns nullptr after a loud message so
//    the caller can skip. A cluster that is installed but does not start
//    fails the test.
//  - The destructor runs `slurm-local.sh stop DIR` (cancels every job of
//    the cluster, stops the daemons) and removes DIR.
//  - node() is the one node's name (`hostname -s`).
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "common/process/subprocess.h"
#include "tests/testing.h"

namespace scn::testing {

class SlurmCluster {
 public:
  static std::unique_ptr<SlurmCluster> start() {
    for (const char* tool : {"slurmctld", "slurmd", "munged", "sbatch", "squeue", "sinfo"}) {
      if (!on_path(tool)) {
        if (in_ci()) FAIL("Slurm is not installed (" << tool << " missing): apt-get install slurm-wlm slurmctld slurmd munge");
        std::fprintf(stderr, "\n*** SKIPPING a Slurm test: %s is not installed (apt-get install slurm-wlm slurmctld slurmd munge) ***\n\n", tool);
        MESSAGE("SKIPPED: Slurm is not installed");
        return nullptr;
      }
    }
    auto c = std::unique_ptr<SlurmCluster>(new SlurmCluster());
    int rc = c->script("start");
    REQUIRE_MESSAGE(rc == 0, "scripts/slurm-local.sh start failed (exit " << rc << "):\n"
                                 << c->read(c->log_) << "\n--- slurmctld.log:\n"
                                 << c->tail(c->dir_.path() / "log" / "slurmctld.log") << "\n--- slurmd.log:\n"
                                 << c->tail(c->dir_.path() / "log" / "slurmd.log"));
    ::setenv("SLURM_CONF", (c->dir_.path() / "slurm.conf").c_str(), 1);
    return c;
  }

  ~SlurmCluster() {
    script("stop");
    ::unsetenv("SLURM_CONF");
  }

  std::string dir() const { return dir_.path().string(); }
  std::string conf() const { return (dir_.path() / "slurm.conf").string(); }
  std::string node() const {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    std::string n = buf;
    return n.substr(0, n.find('.'));
  }
  // Runs a shell command line with this cluster's SLURM_CONF; its stdout.
  std::string shell(const std::string& line) const {
    const std::string out = (dir_.path() / "shell.out").string();
    process::SpawnOptions so;
    so.argv = {"/bin/sh", "-c", line};
    so.env.emplace_back("SLURM_CONF", conf());
    so.log_path = out;
    so.kill_with_parent = false;
    std::filesystem::remove(out);
    auto child = process::Subprocess::spawn(so);
    if (!child.is_ok()) return {};
    child.value()->wait_for(std::chrono::seconds(30));
    return read(out);
  }

 private:
  SlurmCluster() : log_((dir_.path() / "slurm-local.log").string()) {}

  static bool on_path(const std::string& tool) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "";
    p += ":/usr/sbin:/sbin";
    std::stringstream ss(p);
    std::string d;
    while (std::getline(ss, d, ':')) {
      if (!d.empty() && ::access((std::filesystem::path(d) / tool).c_str(), X_OK) == 0) return true;
    }
    return false;
  }

  static std::string script_path() {
    const char* src = std::getenv("SCN_SOURCE_DIR");
    std::filesystem::path root = src && *src ? src : std::filesystem::path(".");
    return (root / "scripts" / "slurm-local.sh").string();
  }

  int script(const std::string& cmd) {
    process::SpawnOptions so;
    so.argv = {"bash", script_path(), cmd, dir_.path().string()};
    so.log_path = log_;
    so.kill_with_parent = false;
    so.env.emplace_back("PATH", std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin") +
                                    ":/usr/sbin:/sbin");
    auto child = process::Subprocess::spawn(so);
    if (!child.is_ok()) return 127;
    // The script bounds itself (three 30 s attempts at most); this is a backstop.
    auto st = child.value()->wait_for(std::chrono::seconds(150));
    return st ? *st : 124;
  }

  // The last `lines` lines of a file (a daemon's log for a failure message).
  static std::string tail(const std::filesystem::path& path, std::size_t lines = 30) {
    std::string all = read(path.string());
    std::size_t pos = all.size();
    for (std::size_t n = 0; n <= lines && pos > 0; ++n) {
      pos = all.rfind('\n', pos - 1);
      if (pos == std::string::npos) return all;
    }
    return all.substr(pos + 1);
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TempDir dir_;
  std::string log_;
};

}  // namespace scn::testing
