// SlurmSupervisor: runs each desired replica of a Slurm center's nodes as a
// Slurm job that starts `scn infer`, the counterpart of supervisor.h for
// `scn agent --slurm` (one supervisor for every Slurm node the agent uses).
//
// Contract:
//  - One thread polls Slurm every poll_interval (`sinfo --json`,
//    `squeue --json`) and converges every node's jobs to the desired set
//    given with set_desired(node, ...) (level-triggered).
//  - A desired replica's model file is fetched through the ModelCache first
//    (reported "starting", "fetching model file"); the cache directory must
//    be on a filesystem the compute nodes share with the login node. Then
//    the replica becomes a job `scn-<replica_id>`: sbatch with -c
//    cpu_threads, --mem memory_bytes (MB, rounded up), --gres=gpu:N for
//    gpu_indices.size(), --time time_limit, --nodelist the node and the
//    operator's account/partition/reservation (idle_only: --nice=10000). Its
//    batch script (<jobs_dir>/<replica>.sh, output <jobs_dir>/<jobid>.log)
//    execs infer_command(...) with `--port 0 --host 0.0.0.0 --port-file
//    <jobs_dir>/$SLURM_JOB_ID.port`; jobs_dir (<state_dir>/jobs) must also
//    be shared with the compute nodes.
//  - The replica is "starting" (reason: Slurm's pending reason, or "job N
//    running, waiting for /health") until GET <node address>:<port>/health
//    answers 200, then "ready" with that port.
//  - A job that ends (any final state), disappears from squeue, or is
//    cancelled from outside makes its replica "failed" with "Slurm job N
//    STATE (reason)"; the next poll submits a new job (restarts + 1).
//  - Walltime (make-before-break): when a ready replica's job is within
//    replace_before of its end, a replacement job is submitted; once it is
//    ready the replica reports the new port, and the old job is cancelled
//    when its /health shows nothing queued or running (after at least
//    switch_delay, so the broker has re-routed) or drain_grace passed.
//  - A replica no longer desired: its jobs are cancelled, it is reported
//    "stopped" once and forgotten.
//  - Controller unreachable (kUnavailable from the client): nothing is
//    changed (running replicas keep their state; nothing is failed,
//    submitted or cancelled) until it answers again; controller_ok() says so.
//  - Jobs named scn-<replica_id> of this user found in squeue (an agent
//    restart) are adopted for a desired replica, and cancelled otherwise
//    (after the first set_desired).
//  - Thread-safe. on_change is called from the supervisor thread when a
//    replica changes state.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node-agent/model_cache.h"
#include "node-agent/slurm/slurm_client.h"
#include "node-agent/supervisor.h"

namespace scn::node_agent::slurm {

struct SlurmSupervisorOptions {
  std::string infer_binary;  // "" -> this executable
  std::string state_dir;     // jobs/ below it: scripts, port files, job logs
  std::string partition;
  std::string account;
  std::string reservation;
  bool idle_only = false;
  std::chrono::seconds time_limit{4 * 3600};
  std::chrono::seconds replace_before{300};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds health_interval{300};
  std::chrono::milliseconds switch_delay{3000};
  std::chrono::milliseconds drain_grace{60'000};
  // A submitted job that squeue does not list for this long is gone.
  std::chrono::milliseconds missing_after{15'000};
};

// What the agent reports for one Slurm node.
struct SlurmNodeView {
  SlurmNode node;
  bool listed = false;      // in the last sinfo answer
  int our_cpus = 0;         // CPUs our active jobs hold on it
  std::int64_t our_memory_mb = 0;
};

class SlurmSupervisor {
 public:
  SlurmSupervisor(SlurmSupervisorOptions options, const SlurmClient& client, ModelCache& cache);
  ~SlurmSupervisor();
  SlurmSupervisor(const SlurmSupervisor&) = delete;
  SlurmSupervisor& operator=(const SlurmSupervisor&) = delete;

  // Replaces the desired replicas of one Slurm node.
  void set_desired(const std::string& slurm_node, std::vector<DesiredReplica> desired);
  // The replicas of one node; those stopped since the last call once.
  std::vector<ReplicaReport> report(const std::string& slurm_node);
  // The nodes of the last successful sinfo (a node once seen stays, with
  // listed = false when it disappeared).
  std::map<std::string, SlurmNodeView> nodes() const;
  bool controller_ok() const;
  // True once Slurm answered at least once.
  bool polled() const;
  // Sum of cpu_threads of the desired replicas of a node.
  int threads_desired(const std::string& slurm_node) const;
  std::int64_t memory_desired_mb(const std::string& slurm_node) const;
  // The current job of a replica (tests), nullopt when none.
  std::optional<std::int64_t> job_of(const std::string& replica_id) const;
  void set_on_change(std::function<void()> on_change);
  // Cancels every job and forgets every replica; blocks until done.
  void stop_all();

  // The batch script of a replica (exposed for tests).
  static std::string job_script(const std::vector<std::string>& infer_argv, const std::string& jobs_dir);

 private:
  struct Job {
    std::int64_t id = 0;
    std::string state = "PENDING";
    std::string reason;
    std::string host;
    std::int64_t end_time = 0;
    int port = 0;
    bool healthy = false;
    bool seen = false;
    std::chrono::steady_clock::time_point submitted, next_health, drain_since;
    int outstanding = -1;
  };
  struct Replica {
    DesiredReplica spec;
    std::string node;
    ReplicaState state = ReplicaState::kStarting;
    std::string reason = "fetching model file";
    int restarts = 0;
    int port = 0;
    std::string model_path;
    std::optional<Job> current;
    std::optional<Job> replacement;
    bool submitting = false;
    std::chrono::steady_clock::time_point retry_at;
  };
  struct Work;

  void loop();
  void poll_once();
  Work plan(bool have_jobs, const std::vector<SlurmJob>& jobs, std::chrono::steady_clock::time_point now);
  bool update_job(Job& job, const std::map<std::int64_t, const SlurmJob*>& by_id,
                  std::chrono::steady_clock::time_point now, std::string* ended);
  Result<std::int64_t> submit(const Replica& r);
  void probe(Work& work);
  std::string jobs_dir() const;

  const SlurmSupervisorOptions options_;
  const SlurmClient& client_;
  ModelCache& cache_;
  std::string infer_binary_;
  std::string user_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<std::string, DesiredReplica>> desired_;  // node -> id -> spec
  bool desired_known_ = false;
  std::map<std::string, Replica> replicas_;
  std::map<std::string, std::vector<ReplicaReport>> stopped_;  // node -> reports
  std::vector<std::pair<std::string, Job>> draining_;          // replica id, old job
  std::map<std::string, SlurmNodeView> nodes_;
  bool controller_ok_ = true;
  bool polled_ = false;
  std::uint64_t polls_ = 0;  // completed poll_once() calls
  std::function<void()> on_change_;
  bool stop_all_ = false;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace scn::node_agent::slurm
