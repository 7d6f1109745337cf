// BrokerService: the whole `scn broker` process in one object - PostgreSQL
// (migrated at start), Redis, the /api/v1 router (account and resource
// endpoints), the OpenAI-compatible gateway and model store, /health and
// /metrics - on one http::Server. `scn broker` runs it; `scn up` and the
// tests start it in-process.
//
// Contract:
//  - start() connects to PostgreSQL and Redis (kUnavailable when either
//    cannot be reached, kInvalidArgument for a malformed URL), applies the
//    pending migrations, and listens on host:port (port 0: any free port).
//  - The server's body limit is 8 MiB (the gateway's); /api/v1 bodies are
//    limited to 1 MiB by json_body() (413).
//  - GET /health: 200 {"status":"ok"} when PostgreSQL answers, else 503.
//    GET /metrics: the Prometheus text of metrics::default_registry().
//  - web_root (non-empty): the web console is served from it by StaticFiles
//    (broker/static_files.h): every GET no other route takes; start() fails
//    with kNotFound when it is not a directory with an index.html.
//  - GET /api/v1/config (public): {"scheduler_url", "version"} for the
//    console (console_api.h).
//  - stop() is graceful (requests in flight finish), flushes usage, and may
//    be called from any thread; wait() returns when everything has stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/crypto/crypto.h"
#include "common/status.h"
#include "common/tls/config.h"

namespace scn::broker {

struct BrokerOptions {
  std::string pg_url;
  std::string redis_url;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::int64_t usage_flush_ms = 1000;
  std::int64_t route_wait_ms = 10000;  // waiting for a ready replica (gateway.h)
  std::int64_t cold_start_hold_ms = 60000;  // holding a request while its service wakes from zero
  int request_log_days = 30;           // request_log retention
  std::string model_store_dir;  // "" = no model store
  std::string web_root;         // "" = no web console
  std::string scheduler_url;    // shown by the console (join commands); may be ""
  crypto::KdfParams kdf;        // password hashing cost
  int worker_threads = 16;
  int pg_pool_size = 8;
  tls::ServerTlsConfig tls;  // TLS for tenants (--tls-cert/--tls-key/--tls-client-ca)
};

class BrokerService {
 public:
  static Result<std::unique_ptr<BrokerService>> start(const BrokerOptions& options);
  ~BrokerService();  // stop() and wait()
  BrokerService(const BrokerService&) = delete;
  BrokerService& operator=(const BrokerService&) = delete;

  int port() const;
  void stop();
  void wait();
  // stop() on SIGINT / SIGTERM.
  void stop_on_signals();

 private:
  struct Impl;
  explicit BrokerService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
