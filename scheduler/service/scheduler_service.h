// The `scn scheduler` process as an object: the agents' API on every
// instance, and the reconcile loop on the leader.
//
// Contract:
//  - start() connects to PostgreSQL (applying the embedded migrations) and
//    Redis, serves POST /agent/v1/register, POST /agent/v1/heartbeat,
//    GET /health ({"status":"ok","leader":bool,"epoch":n}: n is the
//    fencing epoch while leading, 0 otherwise) and GET /metrics
//    (Prometheus text of `registry`), and starts the loop thread: every
//    second it tries to become leader (leader.h); while leader it runs
//    Reconciler::run_cycle() every config.loop, and at once when a message
//    arrives on Redis channel `scn:scheduler:wake`. Losing the lock's
//    connection stops the cycles until leadership is regained (with a new
//    start-up grace). On taking the lock the reconciler takes a new fencing
//    epoch (fencing.h); a cycle refused as fenced releases the lock.
//  - stop() is graceful and idempotent (the running cycle finishes, the
//    server finishes requests in flight, the lock is released); wait()
//    returns once everything has stopped. The destructor stops and waits.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "common/tls/config.h"
#include "scheduler/service/service_context.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
class RedisSubscriber;
}
namespace scn::http {
class Server;
}

namespace scn::scheduler {

class AgentApi;
class LeaderLock;
class Reconciler;
class RouteWriter;

struct SchedulerOptions {
  std::string pg_url;
  std::string redis_url;
  std::string host = "127.0.0.1";
  int port = 7070;  // 0: an ephemeral port
  SchedulerConfig config;
  int worker_threads = 8;
  // TLS for the agents' API (docs/API.md, "Transport security"). With a
  // client CA, agents' certificates are optional at the handshake; a
  // heartbeat over a connection with one must come from the node the
  // certificate is bound to (else 403). require_client_cert: heartbeats
  // without a node-bound certificate are 403 too (registration is not:
  // the node has no id yet).
  tls::ServerTlsConfig tls;
  bool require_client_cert = false;
  // A standby deposes a leader whose lock session has been idle this long
  // (a frozen leader; leader.h). Must exceed config.loop.
  std::chrono::milliseconds leader_stale_after{10000};
};

class SchedulerService {
 public:
  static Result<std::unique_ptr<SchedulerService>> start(SchedulerOptions options,
                                                         metrics::Registry& registry);
  ~SchedulerService();
  SchedulerService(const SchedulerService&) = delete;
  SchedulerService& operator=(const SchedulerService&) = delete;

  int port() const;
  bool is_leader() const { return leader_flag_.load(); }
  int64_t epoch() const { return epoch_.load(); }
  // Runs the loop now (as a wake message does).
  void wake();
  void stop();
  void wait();
  // Stops on SIGINT/SIGTERM (call after start()).
  void stop_on_signals();

 private:
  SchedulerService(SchedulerOptions options, metrics::Registry& registry);
  void loop();

  SchedulerOptions options_;
  metrics::Registry& registry_;
  SchedulerMetrics metrics_;
  std::unique_ptr<db::PgPool> pool_;
  std::unique_ptr<redis::RedisClient> api_redis_;
  std::unique_ptr<redis::RedisClient> loop_redis_;
  std::unique_ptr<RouteWriter> api_routes_;
  std::unique_ptr<RouteWriter> loop_routes_;
  std::unique_ptr<AgentApi> api_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<LeaderLock> leader_;
  std::unique_ptr<redis::RedisSubscriber> subscriber_;
  std::unique_ptr<http::Server> server_;
  std::thread loop_thread_;
  std::thread subscriber_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stopping_ = false;
  std::atomic<bool> leader_flag_{false};
  std::atomic<int64_t> epoch_{0};  // the fencing epoch while leading, else 0
  bool waited_ = false;
};

}  // namespace scn::scheduler
