// SlurmAgent: `scn agent --slurm` on a Slurm center's login node. One process
// represents every Slurm node it may use; each is its own pool node.
//
// Contract:
//  - The nodes it may use: with --slurm-reservation R the nodes of that
//    reservation; else with --slurm-partition P the nodes in P; else every
//    node sinfo lists. With --slurm-idle-only a node is registered only
//    while it is idle (or runs only this agent's jobs).
//  - Each such node is registered once with the join token (so the token
//    needs at least as many uses as there are nodes) as a pool node named
//    "<name>-<slurm node>", address = its NodeAddr, devices from Slurm (cpu
//    row: CPUs and RealMemory; gpu rows: GRES gpu types), with
//    "managed_by":"slurm" and "slurm":{"node","partition","state"}. The
//    credentials of all of them are kept in <state_dir>/agent.json as
//    {"slurm_nodes":{"<slurm node>":{"node_id","node_secret","center_id"}}}
//    (mode 0600).
//  - Every heartbeat interval one heartbeat per registered node, with
//    "slurm":{"state","reason","controller"}: Slurm's state in lower case
//    ("down" for a node no longer listed by sinfo) and, while the controller
//    is unreachable, controller "unreachable" with the last known state;
//    free = the node's CPUs/memory minus what other users' jobs hold minus
//    this agent's desired replicas. The answer's replicas go to the
//    SlurmSupervisor for that node; 410 drops that node (its jobs are
//    cancelled, its credentials forgotten).
//  - scheduler_url: one URL or several, comma-separated (the instances of
//    one scheduler); requests fail over between them as the plain agent's
//    do (node-agent/scheduler_client.h).
//  - Scheduler unreachable/5xx: retried next interval, replicas keep
//    running. A refused registration (4xx) ends run() with that error.
//  - stop() makes run() cancel the jobs and return OK.
#pragma once

#include <condition_variable>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "node-agent/model_cache.h"
#include "node-agent/protocol.h"
#include "node-agent/scheduler_client.h"
#include "node-agent/slurm/slurm_client.h"
#include "node-agent/slurm/slurm_supervisor.h"

namespace scn::node_agent::slurm {

struct SlurmAgentOptions {
  std::string scheduler_url;  // one URL or several, comma-separated
  std::string join_token;
  std::string name;  // prefix of the pool node names
  std::map<std::string, std::string> labels;
  std::string state_dir;
  std::string cache_dir;  // "" -> <state_dir>/models (must be shared with the compute nodes)
  int heartbeat_ms = 2000;
  SlurmSupervisorOptions supervisor;  // partition, account, reservation, idle_only, limits
  SlurmClientOptions client;
  // GPU memory per GRES type (lower case), GiB: Slurm does not report it. A
  // GRES type neither here nor in known_gpu_memory_gib() is left out of the
  // node's devices (logged), since placement needs each GPU's memory.
  std::map<std::string, std::int64_t> gpu_memory_gib;
};

// Memory of well-known accelerator models (GiB) by lower-case GRES type:
// h200 141, h100/h800/a800 80, l40/l40s 48. Models sold in several sizes
// (a100: 40 or 80) are not guessed.
std::optional<std::int64_t> known_gpu_memory_gib(std::string_view gres_type);
// Whether a Slurm node is capacity the operator gave the platform: listed
// by sinfo; in --slurm-reservation's nodes and --slurm-partition when set;
// with --slurm-idle-only, idle or holding only this agent's jobs.
bool slurm_node_eligible(const SlurmNodeView& v, const SlurmSupervisorOptions& options,
                         const std::vector<std::string>& reservation_nodes);
// "h200=141,a100=80" -> {h200:141, a100:80}; types are lower-cased.
Result<std::map<std::string, std::int64_t>> parse_gpu_memory_gib(std::string_view text);

// agent.json of a Slurm agent (exposed for tests). load: kNotFound when absent.
Result<std::map<std::string, Credentials>> load_slurm_credentials(const std::string& path);
Status save_slurm_credentials(const std::string& path, const std::map<std::string, Credentials>& creds);

// Parses "4:00:00", "90:00", "120" (minutes, as sbatch --time), "1-00:00:00".
Result<std::chrono::seconds> parse_slurm_duration(std::string_view text);

class SlurmAgent {
 public:
  static Result<std::unique_ptr<SlurmAgent>> create(SlurmAgentOptions options);
  ~SlurmAgent();
  SlurmAgent(const SlurmAgent&) = delete;
  SlurmAgent& operator=(const SlurmAgent&) = delete;

  Status run();
  void stop();
  std::string credentials_path() const;
  // Slurm node -> pool node id of the registered nodes.
  std::map<std::string, std::string> node_ids() const;

 private:
  explicit SlurmAgent(SlurmAgentOptions options);
  Status register_nodes();
  void heartbeat(const std::string& slurm_node);
  bool eligible(const SlurmNodeView& v) const;
  bool wait_stopping(std::chrono::milliseconds d);

  SlurmAgentOptions options_;
  SlurmClient client_;
  std::unique_ptr<SchedulerClient> scheduler_;
  std::unique_ptr<ModelCache> cache_;
  std::unique_ptr<SlurmSupervisor> supervisor_;
  std::vector<std::string> reservation_nodes_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool changed_ = false;
  int heartbeat_ms_;
  std::map<std::string, Credentials> credentials_;
  std::map<std::string, SlurmNodeView> last_view_;
  std::map<std::string, std::vector<ReplicaReport>> unsent_stopped_;
  bool in_outage_ = false;
};

}  // namespace scn::node_agent::slurm
