// `scn agent`: flags -> AgentOptions, signals -> Agent::stop().
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/log.h"
#include "common/tls/https_client.h"  // --ca, --tls-cert, --tls-key (issue 9)
#include "node-agent/agent.h"
#include "node-agent/agent_cli.h"
#include "node-agent/slurm/slurm_agent.h"

namespace scn::node_agent {
namespace {

// Runs agent->run() while a thread stops it on SIGINT/SIGTERM (blocked in
// `set`), then destroys the agent (which stops its workers). The exit code:
// 0, or 1 when run() failed.
template <typename AgentT>
int run_until_signal(std::unique_ptr<AgentT>& agent, const sigset_t& set) {
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec tick{0, 200'000'000};
    while (!done.load()) {
      int signo = sigtimedwait(&set, nullptr, &tick);
      if (signo == SIGINT || signo == SIGTERM) {
        common::log_info("scn agent: signal ", signo, ", stopping");
        agent->stop();
      }
    }
  });
  Status st = agent->run();
  done = true;
  signals.join();
  agent.reset();
  if (!st.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "node";
  return buf;
}

// `scn agent --slurm`: one SlurmAgent for every Slurm node it may use.
int slurm_agent_main(const AgentOptions& o, const std::string& partition, const std::string& account,
                     const std::string& reservation, bool idle_only, const std::string& time_limit,
                     const std::string& replace_before, const std::string& gpu_memory, sigset_t set) {
  slurm::SlurmAgentOptions so;
  auto gib = slurm::parse_gpu_memory_gib(gpu_memory);
  if (!gib.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n", gib.status().message().c_str());
    return 2;
  }
  so.gpu_memory_gib = std::move(gib).value();
  so.scheduler_url = o.scheduler_url;
  so.join_token = o.join_token;
  so.name = o.name;
  so.labels = o.labels;
  so.state_dir = o.state_dir;
  so.cache_dir = o.cache_dir;
  so.heartbeat_ms = o.heartbeat_ms;
  so.supervisor.infer_binary = o.infer_binary;
  so.supervisor.partition = partition;
  so.supervisor.account = account;
  so.supervisor.reservation = reservation;
  so.supervisor.idle_only = idle_only;
  auto limit = slurm::parse_slurm_duration(time_limit);
  auto before = slurm::parse_slurm_duration(replace_before);
  if (!limit.is_ok() || !before.is_ok()) {
    std::fprintf(stderr, "scn agent: --slurm-time-limit/--slurm-replace-before: %s\n",
                 (limit.is_ok() ? before.status() : limit.status()).message().c_str());
    return 2;
  }
  so.supervisor.time_limit = *limit;
  so.supervisor.replace_before = *before;
  auto agent = slurm::SlurmAgent::create(so);
  if (!agent.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n", agent.status().message().c_str());
    return 2;
  }
  common::log_info("scn agent --slurm: ", o.name, " -> ", o.scheduler_url,
                   partition.empty() ? "" : " (partition " + partition + ")");
  return run_until_signal(agent.value(), set);
}

}  // namespace

int agent_main(int argc, char** argv) {
  AgentOptions o;
  std::string labels, port_range = "21000-21999";
  tls::ClientTlsConfig tls_config;
  // --slurm (issue 10): this agent runs on a Slurm center's login node.
  bool slurm_mode = false, slurm_idle_only = false;
  std::string slurm_partition, slurm_account, slurm_reservation;
  std::string slurm_time_limit = "4:00:00", slurm_replace_before = "5:00", slurm_gpu_memory;
  common::OptionSet opts("scn agent", "a node agent: registers with the scheduler, runs scn infer workers");
  opts.add("scheduler", &o.scheduler_url,
           "the scheduler's URL, e.g. http://127.0.0.1:7070; with several scheduler instances "
           "(one leads, the others stand by) all of them, comma-separated: "
           "http://10.0.0.1:7070,http://10.0.0.2:7070 - the agent uses the one that answers and "
           "fails over to the next on a connection failure, a timeout or a 5xx, with backoff, "
           "without touching its replicas")
      .add("join-token", &o.join_token, "join token from the center's operator (first start only)")
      .add("name", &o.name, "node name (default: the host name)")
      .add("address", &o.address, "address the broker uses to reach this node's replicas")
      .add("bind-host", &o.bind_host, "address the replicas listen on")
      .add("labels", &labels, "node labels k=v,k=v")
      .add("simulate", &o.simulate, "simulated GPUs, e.g. 8xH200-141G or 4xA100-80G,2xAscend-910B-64G")
      .add("state-dir", &o.state_dir, "agent.json and replica logs (default ./var/agent-<name>)")
      .add("cache-dir", &o.cache_dir, "model file cache (default <state-dir>/models)")
      .add("port-range", &port_range, "ports for replicas the scheduler gives none, LOW-HIGH")
      .add("heartbeat-ms", &o.heartbeat_ms, "heartbeat interval until the scheduler names one")
      .add("infer-binary", &o.infer_binary, "the scn binary to run `infer` with (default: this one)")
      .add("ca", &tls_config.ca_file, "CA that signed the scheduler's TLS certificate (https:// URLs)")
      .add("tls-cert", &tls_config.cert_file, "client certificate bound to this node (scn pki issue --client --node-id)")
      .add("tls-key", &tls_config.key_file, "the client certificate's key")
      .add("worker-tls-cert", &o.worker_tls_cert, "the workers serve TLS with this certificate (passed to scn infer)")
      .add("worker-tls-key", &o.worker_tls_key, "the workers' TLS key")
      .flag("slurm", &slurm_mode, "represent the nodes of this Slurm cluster (run on its login node); replicas run as Slurm jobs")
      .add("slurm-partition", &slurm_partition, "--slurm: the partition the operator dedicates to the platform")
      .add("slurm-account", &slurm_account, "--slurm: the account jobs are charged to")
      .add("slurm-reservation", &slurm_reservation, "--slurm: a reservation for the platform (its nodes only)")
      .flag("slurm-idle-only", &slurm_idle_only, "--slurm: only idle nodes, low-priority (--nice) preemptible jobs")
      .add("slurm-time-limit", &slurm_time_limit, "--slurm: a replica job's time limit (sbatch --time: 4:00:00, 90, 1-00:00:00)")
      .add("slurm-gpu-memory", &slurm_gpu_memory, "--slurm: GPU memory per GRES type in GiB, e.g. a100=80,h200=141 (h200, h100, h800, a800, l40(s) are known)")
      .add("slurm-replace-before", &slurm_replace_before, "--slurm: replace a replica this long before its job's time limit (same syntax)")
      .require("scheduler")
      .log_level_option();
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (o.worker_tls_cert.empty() != o.worker_tls_key.empty() ||
      (!o.worker_tls_cert.empty() && tls_config.ca_file.empty())) {
    std::fprintf(stderr, "scn agent: --worker-tls-cert and --worker-tls-key go together and need --ca "
                         "(the agent health-checks its workers over https)\n");
    return 2;
  }
  if (o.name.empty()) o.name = host_name();
  if (o.state_dir.empty()) o.state_dir = "./var/agent-" + o.name;
  if (!slurm_mode && (slurm_idle_only || !slurm_partition.empty() || !slurm_account.empty() ||
                      !slurm_gpu_memory.empty() ||
                      !slurm_reservation.empty())) {
    std::fprintf(stderr, "scn agent: the --slurm-* options need --slurm\n");
    return 2;
  }
  auto l = parse_labels(labels);
  auto range = parse_port_range(port_range);
  if (!l.is_ok() || !range.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n",
                 (l.is_ok() ? range.status() : l.status()).message().c_str());
    return 2;
  }
  // TLS towards the scheduler (https:// URLs go through common/tls).
  if (!tls_config.ca_file.empty() || !tls_config.cert_file.empty() || !tls_config.key_file.empty()) {
    auto ctx = tls::make_client_context(tls_config);
    if (!ctx.is_ok()) {
      std::fprintf(stderr, "scn agent: %s\n", ctx.status().message().c_str());
      return 2;
    }
    tls::set_default_client_tls(tls_config);
  }
  o.labels = l.value();
  o.port_min = range->first;
  o.port_max = range->second;

  // Signals are taken by one thread with sigtimedwait; every other thread
  // (and, through the supervisor, no child) has them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  if (slurm_mode) return slurm_agent_main(o, slurm_partition, slurm_account, slurm_reservation, slurm_idle_only,
                                          slurm_time_limit, slurm_replace_before, slurm_gpu_memory, set);
  auto agent = Agent::create(o);
  if (!agent.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n", agent.status().message().c_str());
    return 2;
  }
  common::log_info("scn agent: ", o.name, " -> ", o.scheduler_url, " (", agent.value()->capacity().cpu_cores,
                   " cores", agent.value()->capacity().simulated ? ", simulated GPUs" : "", ")");
  return run_until_signal(agent.value(), set);
}

}  // namespace scn::node_agent
