// Agent: a node of the pool. Registers with the scheduler, heartbeats, and
// converges its `scn infer` children to the desired set each answer names.
//
// Contract:
//  - options.scheduler_url names one scheduler or several, comma-separated
//    ("http://a:7070,http://b:7070": the instances of one scheduler, one
//    leading and the others standing by). Every instance serves the agents'
//    API; the agent stays with the one that answers and fails over to the
//    next on a connection failure, a timeout or a 5xx answer, with backoff,
//    logging the switch (scheduler_client.h). Replicas never notice.
//  - run() registers with the join token (POST /agent/v1/register) unless
//    <state_dir>/agent.json holds node_id + node_secret from an earlier run;
//    after registering it writes that file (mode 0600). A scheduler that is
//    unreachable or answers 5xx is retried every heartbeat interval; a
//    refused registration (4xx: bad token, name taken) ends run() with that
//    error.
//  - Then every heartbeat_ms (the scheduler's answer wins over the option)
//    it POSTs /agent/v1/heartbeat with free resources, models and replicas;
//    a replica or model changing state sends one at once (bursts coalesced:
//    at most one per 200 ms); one not answered within 4 intervals (1-5 s)
//    counts as failed, so a frozen scheduler instance is left in time. The
//    answer's `replicas` is the desired set and
//    the supervisor converges to it (level-triggered). A replica's "stopped"
//    is repeated until a heartbeat carrying it was answered 200.
//  - Scheduler unreachable, 5xx or 401: everything keeps running, retried
//    next interval, logged once per outage. 410 (node removed): every
//    replica is stopped, agent.json deleted, run() returns OK.
//  - stop() (any thread, e.g. on SIGTERM) makes run() stop the replicas
//    gracefully and return OK.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "node-agent/capacity.h"
#include "node-agent/model_cache.h"
#include "node-agent/protocol.h"
#include "node-agent/scheduler_client.h"
#include "node-agent/supervisor.h"

namespace scn::node_agent {

struct AgentOptions {
  std::string scheduler_url;  // "http://127.0.0.1:7070" or several, comma-separated
  std::string join_token;
  std::string name;
  std::string address = "127.0.0.1";  // how the broker reaches this node's replicas
  std::string bind_host = "127.0.0.1";
  std::map<std::string, std::string> labels;
  std::string simulate;    // "" or a spec like "8xH200-141G"
  std::string state_dir;   // agent.json and logs/
  std::string cache_dir;   // "" -> <state_dir>/models
  int port_min = 21000;
  int port_max = 21999;
  int heartbeat_ms = 2000;
  std::string infer_binary;  // "" -> this executable
  // TLS for the node's workers (scn infer --tls-cert/--tls-key; "" = plain).
  std::string worker_tls_cert;
  std::string worker_tls_key;
};

// "k=v,k=v" (empty: none). Keys must be non-empty.
Result<std::map<std::string, std::string>> parse_labels(std::string_view text);
// "21000-21999".
Result<std::pair<int, int>> parse_port_range(std::string_view text);

class Agent {
 public:
  // Validates the options and probes the capacity (a bad --simulate spec is
  // kInvalidArgument); starts nothing yet.
  static Result<std::unique_ptr<Agent>> create(AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  Status run();
  void stop();

  const Capacity& capacity() const { return capacity_; }
  // The scheduler the next request goes to first.
  std::string current_scheduler() const { return scheduler_.current(); }
  std::string credentials_path() const;
  // The node id once registered or loaded ("" before).
  std::string node_id() const;

 private:
  Agent(AgentOptions options, Capacity capacity, std::vector<std::string> scheduler_urls);
  Status obtain_credentials();
  // One heartbeat exchange; sets removed when the scheduler answered 410.
  void heartbeat(bool* removed);
  void note_outage(const std::string& what);
  void note_recovered();
  bool wait_stopping(std::chrono::milliseconds d);

  AgentOptions options_;
  Capacity capacity_;
  std::unique_ptr<ModelCache> cache_;
  std::unique_ptr<Supervisor> supervisor_;
  SchedulerClient scheduler_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool changed_ = false;
  Credentials credentials_;
  int heartbeat_ms_;
  bool in_outage_ = false;
  std::vector<ReplicaReport> unsent_stopped_;  // run() thread only
};

}  // namespace scn::node_agent
