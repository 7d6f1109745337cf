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

namespace scn::node_agent {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "node";
  return buf;
}

}  // namespace

int agent_main(int argc, char** argv) {
  AgentOptions o;
  std::string labels, port_range = "21000-21999";
  tls::ClientTlsConfig tls_config;
  common::OptionSet opts("scn agent", "a node agent: registers with the scheduler, runs scn infer workers");
  opts.add("scheduler", &o.scheduler_url, "the scheduler's URL, e.g. http://127.0.0.1:7070")
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
      .require("scheduler")
      .log_level_option();
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (o.name.empty()) o.name = host_name();
  if (o.state_dir.empty()) o.state_dir = "./var/agent-" + o.name;
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

  auto agent = Agent::create(o);
  if (!agent.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n", agent.status().message().c_str());
    return 2;
  }
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec tick{0, 200'000'000};
    while (!done.load()) {
      int signo = sigtimedwait(&set, nullptr, &tick);
      if (signo == SIGINT || signo == SIGTERM) {
        common::log_info("scn agent: signal ", signo, ", stopping");
        agent.value()->stop();
      }
    }
  });
  common::log_info("scn agent: ", o.name, " -> ", o.scheduler_url, " (", agent.value()->capacity().cpu_cores,
                   " cores", agent.value()->capacity().simulated ? ", simulated GPUs" : "", ")");
  Status st = agent.value()->run();
  done = true;
  signals.join();
  agent.value().reset();  // stops the workers
  if (!st.is_ok()) {
    std::fprintf(stderr, "scn agent: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace scn::node_agent
