// `scn broker`: flags (docs/API.md, "scn broker"), then BrokerService until
// SIGINT/SIGTERM.
#include <cstdio>
#include <string>

#include "broker/broker_cli.h"
#include "broker/broker_service.h"
#include "broker/static_files.h"
#include "common/config.h"
#include "broker/gateway/route_table.h"  // set_worker_tls (issue 9)
#include "common/tls/https_client.h"     // --ca for https:// workers
#include "common/tls/server_flags.h"

namespace scn::broker {

int broker_main(int argc, char** argv) {
  BrokerOptions o;
  int kdf_cost = o.kdf.log2_n;
  o.web_root = default_web_root();
  common::OptionSet opts("scn broker",
                         "the front door: /api/v1 for people and programs, the OpenAI-compatible API");
  opts.add("pg-url", &o.pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .require("pg-url")
      .add("redis-url", &o.redis_url, "Redis URL (redis://host:port/db)")
      .require("redis-url")
      .add("host", &o.host, "address to listen on")
      .add("port", &o.port, "port to listen on (0: any free port)")
      .add("usage-flush-ms", &o.usage_flush_ms, "how often usage counts are written to PostgreSQL")
      .add("route-wait-ms", &o.route_wait_ms, "how long a request waits for a ready replica before 503")
      .add("cold-start-hold-ms", &o.cold_start_hold_ms,
           "how long a request to a service scaled to zero is held while it wakes (0: 503 at once; 0..600000)")
      .add("request-log-days", &o.request_log_days, "days the request log is kept (1..3650)")
      .add("model-store", &o.model_store_dir, "directory served under /store/ (empty: none)")
      .add("web-root", &o.web_root,
           "directory of the web console's build (default: <source>/web/dist when built; empty: none)")
      .add("scheduler-url", &o.scheduler_url, "the scheduler's URL agents join through (shown by the console)")
      .add("kdf-cost", &kdf_cost, "password hashing cost, log2 of scrypt's N (10..20)")
      .add("workers", &o.worker_threads, "threads running requests")
      .log_level_option();
  tls::add_server_tls_options(opts, &o.tls);
  std::string worker_ca;
  bool worker_tls = false;
  opts.add("ca", &worker_ca, "CA that signed the workers' TLS certificates (https:// upstreams)")
      .flag("worker-tls", &worker_tls, "workers serve TLS: forward to them over https://");
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn broker: %s\n\n%s", parsed.status().message().c_str(), opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;
  o.kdf.log2_n = kdf_cost;
  if (o.worker_threads < 1 || o.worker_threads > 1024) {
    std::fprintf(stderr, "scn broker: --workers must be 1..1024\n");
    return 2;
  }
  if (Status st = tls::check_server_tls_options(o.tls); !st.is_ok()) {
    std::fprintf(stderr, "scn broker: %s\n", st.message().c_str());
    return 2;
  }
  if (!worker_ca.empty()) {
    tls::ClientTlsConfig upstream{worker_ca, "", ""};
    if (auto ctx = tls::make_client_context(upstream); !ctx.is_ok()) {
      std::fprintf(stderr, "scn broker: %s\n", ctx.status().message().c_str());
      return 2;
    }
    tls::set_default_client_tls(upstream);
  }
  set_worker_tls(worker_tls);
  auto service = BrokerService::start(o);
  if (!service.is_ok()) {
    std::fprintf(stderr, "scn broker: %s\n", service.status().to_string().c_str());
    return service.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  (*service)->stop_on_signals();
  std::printf("scn broker listening on %s://%s:%d\n", o.tls.enabled() ? "https" : "http",
              o.host.c_str(), (*service)->port());
  std::fflush(stdout);
  (*service)->wait();
  return 0;
}

}  // namespace scn::broker
