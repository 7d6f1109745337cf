// `scn scheduler`: flags, then SchedulerService until SIGINT/SIGTERM.
#include "scheduler/scheduler_cli.h"

#include <cstdio>
#include <string>

#include "common/config.h"
#include "common/metrics.h"
#include "common/tls/server_flags.h"
#include "scheduler/invariants_pg.h"
#include "scheduler/service/scheduler_service.h"

namespace scn::scheduler {

int scheduler_main(int argc, char** argv) {
  // `scn scheduler check`: the invariant checker (invariants_pg.h).
  if (argc >= 2 && std::string(argv[1]) == "check") return check_main(argc - 1, argv + 1);
  SchedulerOptions o;
  int64_t heartbeat_ms = o.config.heartbeat.count();
  int64_t node_ttl_ms = o.config.node_ttl.count();
  int64_t loop_ms = o.config.loop.count();
  int64_t up_window_ms = o.config.scale_up_window.count();
  int64_t down_window_ms = o.config.scale_down_window.count();
  int64_t leader_stale_ms = o.leader_stale_after.count();
  common::OptionSet opts("scn scheduler",
                         "the pool's scheduler: agents' API, liveness, placement, failover");
  opts.add("pg-url", &o.pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .require("pg-url")
      .add("redis-url", &o.redis_url, "Redis URL (redis://host:port/db)")
      .require("redis-url")
      .add("host", &o.host, "address to listen on")
      .add("port", &o.port, "port to listen on (0: any free port)")
      .add("heartbeat-ms", &heartbeat_ms, "heartbeat period agents are told to use")
      .add("node-ttl-ms", &node_ttl_ms, "a node without heartbeat for this long is lost")
      .add("loop-ms", &loop_ms, "period of the leader's reconcile loop")
      .add("leader-stale-ms", &leader_stale_ms,
           "a standby deposes a frozen leader whose lock session has been idle this long "
           "(must exceed --loop-ms)")
      .add("autoscale-up-window-ms", &up_window_ms,
           "autoscaling: load must stay above the current replicas this long before scaling up")
      .add("autoscale-down-window-ms", &down_window_ms,
           "autoscaling: load must stay below the current replicas this long before scaling down")
      .flag("require-client-cert", &o.require_client_cert,
            "heartbeats need a client certificate bound to the node (needs --tls-client-ca)")
      .log_level_option();
  tls::add_server_tls_options(opts, &o.tls);
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn scheduler: %s\n\n%s", parsed.status().message().c_str(),
                 opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  if (heartbeat_ms <= 0 || node_ttl_ms <= 0 || loop_ms <= 0 || up_window_ms < 0 || down_window_ms < 0 ||
      o.port < 0 || o.port > 65535) {
    std::fprintf(stderr, "scn scheduler: --heartbeat-ms, --node-ttl-ms, --loop-ms must be > 0, "
                         "--autoscale-*-window-ms >= 0 and --port 0..65535\n");
    return 2;
  }
  if (leader_stale_ms <= loop_ms) {
    std::fprintf(stderr, "scn scheduler: --leader-stale-ms must exceed --loop-ms\n");
    return 2;
  }
  if (Status st = tls::check_server_tls_options(o.tls); !st.is_ok()) {
    std::fprintf(stderr, "scn scheduler: %s\n", st.message().c_str());
    return 2;
  }
  if (o.require_client_cert && o.tls.client_ca_file.empty()) {
    std::fprintf(stderr, "scn scheduler: --require-client-cert needs --tls-client-ca\n");
    return 2;
  }
  o.config.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  o.config.node_ttl = std::chrono::milliseconds(node_ttl_ms);
  o.config.loop = std::chrono::milliseconds(loop_ms);
  o.leader_stale_after = std::chrono::milliseconds(leader_stale_ms);
  o.config.scale_up_window = std::chrono::milliseconds(up_window_ms);
  o.config.scale_down_window = std::chrono::milliseconds(down_window_ms);

  auto service = SchedulerService::start(o, metrics::default_registry());
  if (!service.is_ok()) {
    std::fprintf(stderr, "scn scheduler: %s\n", service.status().to_string().c_str());
    return 1;
  }
  (*service)->stop_on_signals();
  std::printf("scn scheduler listening on %s://%s:%d\n", o.tls.enabled() ? "https" : "http",
              o.host.c_str(), (*service)->port());
  std::fflush(stdout);
  (*service)->wait();
  return 0;
}

}  // namespace scn::scheduler
