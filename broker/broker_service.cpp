#include "broker/broker_service.h"

#include <boost/json.hpp>

#include <atomic>

#include "broker/accounts_api.h"
#include "broker/api_key_auth.h"
#include "broker/api_router.h"
#include "broker/billing/billing_api.h"
#include "broker/broker_context.h"
#include "broker/console_api.h"
#include "broker/gateway/gateway.h"
#include "broker/resources_api.h"
#include "broker/session_auth.h"
#include "broker/static_files.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/http/server.h"
#include "common/log.h"
#include "common/http/server_metrics.h"
#include "common/metrics.h"
#include "common/redis/redis.h"

namespace scn::broker {

struct BrokerService::Impl {
  std::unique_ptr<db::PgPool> pg;
  std::unique_ptr<redis::RedisClient> redis;
  std::unique_ptr<BrokerContext> ctx;
  std::unique_ptr<ApiKeyCache> keys;
  std::unique_ptr<ApiRouter> router;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<StaticFiles> web;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> stopped{false};
  bool waited = false;
};

BrokerService::BrokerService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BrokerService::~BrokerService() {
  stop();
  wait();
}

Result<std::unique_ptr<BrokerService>> BrokerService::start(const BrokerOptions& options) {
  if (options.pg_url.empty()) return Status::invalid_argument("--pg-url is required");
  if (options.redis_url.empty()) return Status::invalid_argument("--redis-url is required");
  if (options.port < 0 || options.port > 65535) return Status::invalid_argument("--port must be 0..65535");
  if (options.usage_flush_ms <= 0) return Status::invalid_argument("--usage-flush-ms must be > 0");
  if (options.route_wait_ms < 0 || options.route_wait_ms > 600000) {
    return Status::invalid_argument("--route-wait-ms must be 0..600000");
  }
  if (options.cold_start_hold_ms < 0 || options.cold_start_hold_ms > 600000) {
    return Status::invalid_argument("--cold-start-hold-ms must be 0..600000");
  }
  if (options.request_log_days < 1 || options.request_log_days > 3650) {
    return Status::invalid_argument("--request-log-days must be 1..3650");
  }
  if (options.kdf.log2_n < 10 || options.kdf.log2_n > 20) {
    return Status::invalid_argument("--kdf-cost must be 10..20");
  }
  auto impl = std::make_unique<Impl>();
  if (!options.web_root.empty()) {
    SCN_ASSIGN_OR_RETURN(impl->web, StaticFiles::open(options.web_root));
  }
  db::PgOptions pg_options;
  pg_options.url = options.pg_url;
  pg_options.pool_size = options.pg_pool_size;
  pg_options.application_name = "scn-broker";
  SCN_ASSIGN_OR_RETURN(impl->pg, db::PgPool::connect(pg_options));
  SCN_RETURN_IF_ERROR(db::migrate(*impl->pg));
  SCN_ASSIGN_OR_RETURN(impl->redis, redis::RedisClient::connect(options.redis_url));
  impl->ctx = std::make_unique<BrokerContext>(
      BrokerContext{*impl->pg, *impl->redis, options.redis_url, options.kdf});
  impl->keys = std::make_unique<ApiKeyCache>(*impl->pg);
  impl->router = std::make_unique<ApiRouter>(make_authenticator(*impl->pg, *impl->keys));
  add_account_routes(*impl->router, *impl->ctx);
  add_resource_routes(*impl->router, *impl->ctx);
  add_billing_routes(*impl->router, *impl->ctx);
  add_console_routes(*impl->router, *impl->ctx, ConsoleConfig{options.scheduler_url});

  GatewayOptions gateway_options;
  gateway_options.usage_flush = std::chrono::milliseconds(options.usage_flush_ms);
  gateway_options.route_wait = std::chrono::milliseconds(options.route_wait_ms);
  gateway_options.cold_start_hold = std::chrono::milliseconds(options.cold_start_hold_ms);
  gateway_options.request_log_retention = std::chrono::hours(24 * options.request_log_days);
  gateway_options.model_store_dir = options.model_store_dir;
  impl->gateway = std::make_unique<Gateway>(*impl->ctx, gateway_options);

  http::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.worker_threads = options.worker_threads;
  server_options.max_body_bytes = 8u << 20;
  server_options.server_name = "scn-broker";
  server_options.tls = options.tls;
  impl->server = std::make_unique<http::Server>(server_options);

  db::PgPool* pg = impl->pg.get();
  impl->server->route("GET", "/health", [pg](const http::Request&, http::Response& res) {
    Status st = pg->with_tx([](pqxx::work& tx) {
      tx.exec("SELECT 1");
      return Status::ok();
    });
    boost::json::object body;
    body["status"] = st.is_ok() ? "ok" : "unavailable";
    if (!st.is_ok()) body["reason"] = "database: " + st.message();
    res.set_json(st.is_ok() ? 200 : 503, boost::json::serialize(body));
  });
  http::Server* server = impl->server.get();
  impl->server->route("GET", "/metrics", [server](const http::Request&, http::Response& res) {
    res.set_content(200, metrics::default_registry().render() + http::server_metrics(*server),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  impl->router->mount(*impl->server);
  impl->gateway->add_routes(*impl->server);
  if (impl->web) impl->web->mount(*impl->server);

  SCN_RETURN_IF_ERROR(impl->gateway->start());
  Status st = impl->server->start();
  if (!st.is_ok()) {
    impl->gateway->stop();
    return st;
  }
  common::log_info("broker: listening on ", options.host, ":", impl->server->port(), " (",
                   impl->pg->redacted_url(), ")");
  if (impl->web) common::log_info("broker: web console from ", impl->web->root().string());
  return std::unique_ptr<BrokerService>(new BrokerService(std::move(impl)));
}

int BrokerService::port() const { return impl_->server->port(); }

void BrokerService::stop() {
  if (impl_ && impl_->server) impl_->server->stop();
}

void BrokerService::wait() {
  if (!impl_ || impl_->waited) return;
  impl_->server->wait();
  impl_->gateway->stop();
  impl_->waited = true;
}

void BrokerService::stop_on_signals() {
  impl_->server->stop_on_signals(
      [](int signo) { common::log_info("broker: signal ", signo, ", stopping"); });
}

}  // namespace scn::broker
