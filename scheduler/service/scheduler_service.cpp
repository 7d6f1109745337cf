#include "scheduler/service/scheduler_service.h"

#include <boost/json.hpp>

#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/http/server.h"
#include "common/http/server_metrics.h"
#include "common/json.h"
#include "common/log.h"
#include "common/redis/redis.h"
#include "scheduler/service/agent_api.h"
#include "scheduler/service/leader.h"
#include "scheduler/service/reconciler.h"
#include "scheduler/service/routes.h"

namespace scn::scheduler {

SchedulerService::SchedulerService(SchedulerOptions options, metrics::Registry& registry)
    : options_(std::move(options)), registry_(registry), metrics_(registry) {}

SchedulerService::~SchedulerService() {
  stop();
  wait();
}

Result<std::unique_ptr<SchedulerService>> SchedulerService::start(SchedulerOptions options,
                                                                  metrics::Registry& registry) {
  if (options.config.node_ttl.count() <= 0 || options.config.loop.count() <= 0 ||
      options.config.heartbeat.count() <= 0)
    return Status::invalid_argument("--heartbeat-ms, --node-ttl-ms and --loop-ms must be > 0");
  std::unique_ptr<SchedulerService> s(new SchedulerService(std::move(options), registry));
  db::PgOptions pg;
  pg.url = s->options_.pg_url;
  pg.pool_size = 8;
  pg.application_name = "scn-scheduler";
  SCN_ASSIGN_OR_RETURN(s->pool_, db::PgPool::connect(pg));
  SCN_RETURN_IF_ERROR(db::migrate(*s->pool_));
  SCN_ASSIGN_OR_RETURN(s->api_redis_, redis::RedisClient::connect(s->options_.redis_url));
  SCN_ASSIGN_OR_RETURN(s->loop_redis_, redis::RedisClient::connect(s->options_.redis_url));
  SCN_ASSIGN_OR_RETURN(s->subscriber_, redis::RedisSubscriber::create(s->options_.redis_url));
  s->api_routes_ = std::make_unique<RouteWriter>(*s->pool_, *s->api_redis_);
  s->loop_routes_ = std::make_unique<RouteWriter>(*s->pool_, *s->loop_redis_);
  s->api_ = std::make_unique<AgentApi>(*s->pool_, *s->api_redis_, *s->api_routes_,
                                       s->options_.config, s->metrics_);
  s->reconciler_ = std::make_unique<Reconciler>(*s->pool_, *s->loop_redis_, *s->loop_routes_,
                                                s->options_.config, s->metrics_);
  s->leader_ = std::make_unique<LeaderLock>(s->options_.pg_url, kSchedulerLockKey,
                                            s->options_.leader_stale_after);

  http::ServerOptions so;
  so.host = s->options_.host;
  so.port = s->options_.port;
  so.worker_threads = s->options_.worker_threads;
  so.max_body_bytes = 1u << 20;
  so.tls = s->options_.tls;
  if (so.tls.enabled() && !so.tls.client_ca_file.empty()) so.tls.client_cert_optional = true;
  s->api_->set_require_client_cert(s->options_.require_client_cert);
  s->server_ = std::make_unique<http::Server>(so);
  s->api_->install(*s->server_);
  SchedulerService* self = s.get();
  s->server_->route("GET", "/health", [self](const http::Request&, http::Response& res) {
    res.set_json(200, common::to_json(boost::json::object{{"status", "ok"},
                                                          {"leader", self->is_leader()},
                                                          {"epoch", self->epoch_.load()}}));
  });
  s->server_->route("GET", "/metrics", [self](const http::Request&, http::Response& res) {
    res.set_content(200, self->registry_.render() + http::server_metrics(*self->server_), "text/plain; version=0.0.4");
  });
  SCN_RETURN_IF_ERROR(s->server_->start());

  s->subscriber_thread_ = std::thread([self] {
    Status st = self->subscriber_->run(
        {std::string(kWakeChannel)}, {}, [self](const redis::PubSubMessage&) { self->wake(); },
        [self] { self->wake(); });
    if (!st.is_ok()) common::log_warn("scheduler: wake channel: ", st.to_string());
  });
  s->loop_thread_ = std::thread([self] { self->loop(); });
  common::log_info("scheduler: listening on ", s->options_.host, ":", s->server_->port(),
                   so.tls.enabled() ? " (TLS)" : "");
  return s;
}

int SchedulerService::port() const { return server_->port(); }

void SchedulerService::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

void SchedulerService::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (subscriber_) subscriber_->stop();
  if (server_) server_->stop();
}

void SchedulerService::stop_on_signals() {
  server_->stop_on_signals([this](int) {
    common::log_info("scheduler: stopping");
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    if (subscriber_) subscriber_->stop();
  });
}

void SchedulerService::wait() {
  if (waited_) return;
  if (server_) server_->wait();
  {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (subscriber_) subscriber_->stop();
  if (subscriber_thread_.joinable()) subscriber_thread_.join();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (leader_) leader_->release();
  leader_flag_ = false;
  metrics_.leader.set(0);
  waited_ = true;
}

void SchedulerService::loop() {
  bool was_leader = false;
  auto next_poll = std::chrono::steady_clock::now();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    const auto now = std::chrono::steady_clock::now();
    bool lead = was_leader;
    if (was_leader || now >= next_poll) {
      lead = leader_->poll();
      next_poll = now + std::chrono::seconds(1);
    }
    if (lead && !was_leader) {
      Status took = reconciler_->became_leader();
      if (!took.is_ok()) {
        common::log_warn("scheduler: cannot take a fencing epoch: ", took.to_string());
        leader_->release();
        lead = false;
      }
    }
    epoch_ = lead ? reconciler_->epoch() : 0;
    was_leader = lead;
    leader_flag_ = lead;
    metrics_.leader.set(lead ? 1 : 0);
    if (lead && reconciler_->run_cycle().fenced) {
      common::log_warn("scheduler: fenced by a newer leader; standing by");
      leader_->release();
      was_leader = false;
      leader_flag_ = false;
      epoch_ = 0;
      metrics_.leader.set(0);
    }
    std::unique_lock<std::mutex> lock(mu_);
    const auto period = lead ? options_.config.loop : std::chrono::milliseconds(1000);
    cv_.wait_for(lock, period, [this] { return stopping_ || wake_; });
    wake_ = false;
  }
}

}  // namespace scn::scheduler
