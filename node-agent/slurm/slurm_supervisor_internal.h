// Internal to the Slurm supervisor (slurm_supervisor.cpp and
// slurm_supervisor_plan.cpp): the constants both use and the work one poll
// plans — jobs to cancel, replicas to submit, workers to probe — which
// poll_once() carries out without the lock held.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "node-agent/slurm/slurm_supervisor.h"

namespace scn::node_agent::slurm {

inline constexpr std::string_view kJobPrefix = "scn-";
inline constexpr std::chrono::seconds kSubmitRetry{10};
// A job that ended is resubmitted after this pause, so its "failed" state and
// Slurm's reason reach the scheduler in the heartbeat sent on the change.
inline constexpr std::chrono::seconds kResubmitAfterEnd{1};

// The port `scn infer --port-file` wrote (0: none yet, or not a port).
inline int read_port_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return 0;
  int port = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && port > 0 && port < 65536 ? port : 0;
}

// The first host of a Slurm node list ("a,b" -> "a").
inline std::string first_node(const std::string& list) { return list.substr(0, list.find(',')); }

struct SlurmSupervisor::Work {
  struct Submit {
    std::string replica_id;
    bool replacement = false;
    DesiredReplica spec;
    std::string node;
    std::string model_path;
  };
  struct Probe {
    std::string replica_id;
    std::int64_t job_id = 0;
    std::string url;
    bool ok = false;
    int outstanding = -1;
  };
  std::vector<std::int64_t> cancel;
  std::vector<Submit> submit;
  std::vector<Probe> probes;
  bool changed = false;
};

}  // namespace scn::node_agent::slurm
