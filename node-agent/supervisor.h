// Supervisor: runs one `scn infer` child per desired replica and converges to
// the desired set it is given (level-triggered).
//
// Contract:
//  - set_desired() replaces the desired set. The supervisor's own long-lived
//    thread does all the work (children are spawned from it, so their
//    PR_SET_PDEATHSIG follows it): a new replica is fetched through the
//    ModelCache (reported "starting", reason "fetching model file"), then
//    spawned as `<infer_binary> infer --model PATH --port P --host BIND
//    --threads T --ctx C --alias SERVICE --log-level warn` (env
//    SCN_WORKER_SECRET = worker_secret when set) with its output in
//    <log_dir>/<replica_id>.log, and polled with GET /health every
//    health_interval until 200 ("ready").
//  - Port: the desired one when set, else one of [port_min, port_max] that no
//    replica of this supervisor uses and that can be bound right now.
//  - Threads: cpu_threads, at least 1 (GPU replicas on a simulated node run
//    on the CPU). On a real node, gpu_indices become CUDA_VISIBLE_DEVICES.
//  - A child that exits is "failed" with the reason "exited with status N:
//    <last log line>" (a model that cannot be fetched too, with the cache's
//    reason), and is restarted after a back-off (backoff_initial doubling up
//    to backoff_max; reset once a child stayed ready for stable_after).
//    `restarts` counts the restarts.
//  - A replica no longer desired gets SIGTERM, SIGKILL after stop_grace, is
//    reported "stopped" once by report() and then forgotten.
//  - stop_all() (and the destructor) stops every child and waits for them.
//  - on_change (optional) is called from the supervisor thread whenever a
//    replica changes state, so the agent can send a heartbeat at once.
//  - Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/process/subprocess.h"
#include "node-agent/model_cache.h"

namespace scn::node_agent {

// One entry of the heartbeat answer's `replicas`.
struct DesiredReplica {
  std::string replica_id;
  std::string service_id;
  std::string service_name;
  // The replica's worker secret (docs/API.md, "Worker authentication"):
  // given to `scn infer` as env SCN_WORKER_SECRET (crypto::worker_env), never
  // on its command line nor in a log; "" = the replica accepts anyone.
  std::string worker_secret;
  std::optional<int> port;
  int cpu_threads = 1;
  std::vector<int> gpu_indices;
  std::int64_t memory_bytes = 0;
  int context_length = 0;  // 0: the model's own
  ModelFile model;
};

enum class ReplicaState { kStarting, kReady, kFailed, kStopped };
std::string_view replica_state_name(ReplicaState state);  // "starting", ...

// One entry of the heartbeat's `replicas`.
struct ReplicaReport {
  std::string replica_id;
  ReplicaState state = ReplicaState::kStarting;
  std::optional<int> port;
  std::string reason;
  int restarts = 0;
  int outstanding = 0;
};

// The `scn infer` command line of one replica: `<infer_binary> infer --model
// PATH --port P --host BIND --threads T --ctx C --alias SERVICE --log-level
// warn`, plus `--device auto` when use_gpus. The plain supervisor runs it as a
// child; the Slurm supervisor puts it in a job script (with --port 0 and
// --port-file appended).
std::vector<std::string> infer_command(const std::string& infer_binary, const DesiredReplica& spec,
                                       const std::string& model_path, int port,
                                       const std::string& bind_host, bool use_gpus);

struct SupervisorOptions {
  std::string infer_binary;  // empty: process::self_executable()
  // Workers serve TLS with this certificate and key (passed as scn infer
  // --tls-cert/--tls-key; health checks then use https://). Empty: plain.
  std::string worker_tls_cert;
  std::string worker_tls_key;
  std::string bind_host = "127.0.0.1";
  std::string log_dir;
  int port_min = 21000;
  int port_max = 21999;
  bool simulated = false;
  std::chrono::milliseconds tick{50};
  std::chrono::milliseconds health_interval{200};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{30'000};
  std::chrono::milliseconds stable_after{60'000};
  std::chrono::milliseconds stop_grace{5000};
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions options, ModelCache& cache);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void set_desired(std::vector<DesiredReplica> desired);
  // Every known replica; those stopped since the last call are included
  // once and then forgotten.
  std::vector<ReplicaReport> report();
  // Sum of cpu_threads of the replicas that run or are about to.
  int threads_in_use() const;
  // The child's pid (tests), nullopt when none runs.
  std::optional<pid_t> pid_of(const std::string& replica_id) const;
  void set_on_change(std::function<void()> on_change);
  // Stops every child (SIGTERM, stop_grace, SIGKILL) and waits; the desired
  // set is cleared. Blocks until done.
  void stop_all();

 private:
  struct Replica {
    DesiredReplica spec;
    ReplicaState state = ReplicaState::kStarting;
    std::string reason;
    int port = 0;
    int restarts = 0;
    int failures_in_row = 0;
    bool fetching = true;
    bool stopping = false;
    bool reported_stopped = false;
    std::unique_ptr<process::Subprocess> child;
    std::chrono::steady_clock::time_point next_health, ready_since, restart_at, kill_at;
  };
  void loop();
  // All return whether the replica's reported state changed; called with mu_ held.
  bool step(Replica& r, std::chrono::steady_clock::time_point now);
  bool start_child(Replica& r, const std::string& model_path);
  bool child_exited(Replica& r, int status, std::chrono::steady_clock::time_point now);
  int pick_port(const Replica& r) const;
  std::string log_path(const std::string& replica_id) const;

  const SupervisorOptions options_;
  ModelCache& cache_;
  std::string infer_binary_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, DesiredReplica> desired_;
  std::map<std::string, Replica> replicas_;
  std::vector<ReplicaReport> stopped_;  // stopped and forgotten, reported once
  std::function<void()> on_change_;
  bool stop_all_ = false;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace scn::node_agent
