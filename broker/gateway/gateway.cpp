#include "broker/gateway/gateway.h"

#include <boost/json.hpp>

#include <vector>

#include "broker/api_key_auth.h"
#include "broker/gateway/model_store.h"
#include "broker/gateway/proxy.h"
#include "broker/gateway/route_table.h"
#include "broker/gateway/service_load.h"
#include "broker/gateway/usage_meter.h"
#include "common/db/pg.h"
#include "common/json.h"
#include "common/crypto/crypto.h"
#include "common/log.h"
#include "common/metrics.h"

#include <thread>
#include <unistd.h>

namespace scn::broker {
namespace {

constexpr int kMaxTries = 3;

// OpenAI's error shape: {"error": {"type","message","param","code"}}.
void openai_error(http::Response& response, int status, std::string_view type, std::string_view message,
                  std::string_view param = {}, std::string_view code = {}) {
  boost::json::object error;
  error["type"] = common::sanitize_utf8(type);
  error["message"] = common::sanitize_utf8(message);
  error["param"] = param.empty() ? boost::json::value(nullptr) : boost::json::value(param);
  error["code"] = code.empty() ? boost::json::value(nullptr) : boost::json::value(code);
  response.set_json(status, boost::json::serialize(boost::json::object{{"error", std::move(error)}}));
}

void openai_error(http::Response& response, const Status& st, std::string_view param = {},
                  std::string_view code = {}) {
  openai_error(response, st.http_status(), st.error_type(), st.message(), param, code);
}

}  // namespace

struct Gateway::Impl {
  Impl(BrokerContext& c, GatewayOptions o)
      : ctx(c),
        options(std::move(o)),
        keys(c.pg, options.api_key_ttl),
        routes(c.pg, c.redis, c.redis_url, options.route_ttl),
        usage(c.pg),
        balancer(options.bad_endpoint_for),
        load(c.redis, c.redis_prefix,
             options.broker_id.empty() ? default_broker_id() : options.broker_id),
        cold_starts(metrics::default_registry().histogram(
            "scn_broker_cold_start_seconds",
            "Time requests to a service at zero were held until a replica was ready",
            {0.5, 1, 2, 5, 10, 20, 30, 60, 120})),
        cold_start_timeouts(metrics::default_registry().counter(
            "scn_broker_cold_start_timeouts_total",
            "Requests to a service at zero answered 503 after the hold")) {}

  static std::string default_broker_id() {
    auto r = crypto::new_secret("");
    return "pid-" + std::to_string(::getpid()) + "-" + (r.is_ok() ? r->substr(0, 8) : "x");
  }

  BrokerContext& ctx;
  GatewayOptions options;
  ApiKeyCache keys;
  RouteTable routes;
  UsageMeter usage;
  EndpointBalancer balancer;
  ServiceLoad load;
  metrics::Histogram& cold_starts;
  metrics::Counter& cold_start_timeouts;
  bool started = false;
  bool stopped = false;

  // The caller's principal, or answers 401 and returns nullopt.
  std::optional<Principal> authenticate(const http::Request& request, http::Response& response) {
    std::string_view key = bearer_token(request);
    if (key.empty()) {
      openai_error(response, 401, "authentication_error",
                   "missing API key: send \"Authorization: Bearer <api key>\"", {}, "invalid_api_key");
      return std::nullopt;
    }
    auto p = keys.authenticate(key);
    if (!p.is_ok()) {
      if (p.status().code() == Code::kUnauthenticated) {
        openai_error(response, p.status(), {}, "invalid_api_key");
      } else {
        openai_error(response, 503, "unavailable_error", "cannot check the API key now");
        response.set_header("Retry-After", "2");
      }
      return std::nullopt;
    }
    return std::move(p).value();
  }

  void models(const http::Request& request, http::Response& response) {
    auto who = authenticate(request, response);
    if (!who) return;
    auto list = ctx.pg.with_tx(
        [&](pqxx::work& tx) -> Result<boost::json::array> {
          boost::json::array data;
          for (const auto& row : tx.exec_params(
                   "SELECT s.name, extract(epoch FROM s.created_at)::bigint, t.name, s.status"
                   "  FROM services s JOIN tenants t ON t.id = s.tenant_id"
                   " WHERE s.tenant_id = $1 AND s.deleted_at IS NULL ORDER BY s.name",
                   who->tenant_id)) {
            data.push_back(boost::json::object{{"id", row[0].as<std::string>()},
                                               {"object", "model"},
                                               {"created", row[1].as<std::int64_t>()},
                                               {"owned_by", row[2].as<std::string>()},
                                               {"status", row[3].as<std::string>()}});
          }
          return data;
        },
        db::TxOptions{.read_only = true});
    if (!list.is_ok()) return openai_error(response, list.status());
    response.set_json(200, boost::json::serialize(
                               boost::json::object{{"object", "list"}, {"data", std::move(*list)}}));
  }

  void completions(const http::Request& request, http::Response& response) {
    auto who = authenticate(request, response);
    if (!who) return;
    auto parsed = common::parse_json_object(request.body);
    if (!parsed.is_ok()) return openai_error(response, parsed.status());
    common::JsonObject body = std::move(parsed).value();
    auto model = common::require_string(body, "model");
    if (!model.is_ok()) return openai_error(response, model.status(), "model");
    auto service = routes.find_service(who->tenant_id, *model);
    if (!service.is_ok()) {
      if (service.status().code() == Code::kNotFound) {
        return openai_error(response, 404, "not_found_error", service.status().message(), "model",
                            "model_not_found");
      }
      return openai_error(response, service.status());
    }

    ProxyRequest preq;
    preq.path = request.path;
    preq.timeout = options.upstream_timeout;
    auto stream = common::get_bool(body, "stream", false);
    preq.stream = stream.is_ok() && *stream;
    preq.body = request.body;
    if (preq.stream) {
      // Ask the replica for the final usage chunk (to meter the stream); it
      // is passed on only when the client asked for it too.
      auto it = body.find("stream_options");
      if (it == body.end() || it->value().is_null()) {
        preq.client_wants_usage = false;
        body["stream_options"] = boost::json::object{{"include_usage", true}};
        preq.body = boost::json::serialize(body);
      } else if (it->value().is_object()) {
        auto& so = it->value().as_object();
        auto wants = common::get_bool(so, "include_usage", false);
        if (wants.is_ok()) {
          preq.client_wants_usage = *wants;
          so["include_usage"] = true;
          preq.body = boost::json::serialize(body);
        }
      }
      // Anything malformed goes as it came: the replica answers the 400.
    }
    load.begin(service->id);
    proxy(*who, *service, preq, response);
    load.end(service->id);
  }

  // Wakes a service at zero and waits for a ready replica (or the bound,
  // or the client leaving). Returns the milliseconds waited, or nullopt.
  std::optional<int64_t> hold_for_replica(const ServiceRef& service, http::Response& response) {
    const auto since = std::chrono::steady_clock::now();
    Status woke = load.wake(service.id);
    if (!woke.is_ok()) common::log_warn("gateway: wake ", service.id, ": ", woke.to_string());
    const auto deadline = since + options.cold_start_hold;
    while (std::chrono::steady_clock::now() < deadline && !response.client_gone()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      routes.invalidate(service.id);
      auto eps = routes.endpoints(service.id);
      if (eps.is_ok() && !eps->empty()) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - since);
        cold_starts.observe(static_cast<double>(waited.count()) / 1000.0);
        common::log_info("gateway: service ", service.name, " woke after ", waited.count(), " ms");
        return waited.count();
      }
    }
    cold_start_timeouts.inc();
    return std::nullopt;
  }

  void proxy(const Principal& who, const ServiceRef& service, const ProxyRequest& preq,
             http::Response& response) {
    std::vector<std::string> tried;
    std::string last_error;
    for (int attempt = 0; attempt < kMaxTries; ++attempt) {
      auto eps = routes.endpoints(service.id);
      if (!eps.is_ok()) {
        common::log_warn("gateway: routes of ", service.id, ": ", eps.status().to_string());
        last_error = eps.status().message();
        break;
      }
      if (eps->empty() && tried.empty() && attempt == 0 && service.scales_to_zero &&
          options.cold_start_hold.count() > 0) {
        auto waited = hold_for_replica(service, response);
        if (!waited) break;
        response.set_header("x-scn-cold-start-ms", std::to_string(*waited));
        eps = routes.endpoints(service.id);
        if (!eps.is_ok()) break;
      }
      auto ep = balancer.pick(service.id, *eps, tried);
      if (!ep) break;
      balancer.begin(ep->url);
      ForwardOutcome out = forward_once(*ep, preq, response);
      balancer.end(ep->url);
      if (out.result == ForwardResult::kAnswered) {
        usage.record(UsageKey{who.tenant_id, service.id, who.api_key_id}, out.usage);
        return;
      }
      common::log_warn("gateway: replica ", ep->replica_id, " at ", ep->url, " of service ", service.name,
                       " failed: ", out.error);
      last_error = out.error;
      balancer.mark_bad(ep->url);
      routes.invalidate(service.id);
      tried.push_back(ep->url);
      if (response.client_gone()) return;
    }
    std::string message = tried.empty() ? "the model '" + service.name + "' has no ready replica"
                                        : "no replica of the model '" + service.name + "' answered";
    openai_error(response, 503, "unavailable_error", message, {}, "no_ready_replica");
    response.set_header("Retry-After", "2");
  }
};

Gateway::Gateway(BrokerContext& ctx, GatewayOptions options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {}

Gateway::~Gateway() { stop(); }

Status Gateway::start() {
  if (impl_->started) return Status::ok();
  SCN_RETURN_IF_ERROR(impl_->routes.start());
  impl_->usage.start(impl_->options.usage_flush);
  impl_->load.start(impl_->options.load_publish);
  impl_->started = true;
  return Status::ok();
}

void Gateway::add_routes(http::Server& server) {
  Impl* impl = impl_.get();
  server.route("GET", "/v1/models",
               [impl](const http::Request& rq, http::Response& rs) { impl->models(rq, rs); });
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    server.route("POST", path,
                 [impl](const http::Request& rq, http::Response& rs) { impl->completions(rq, rs); });
  }
  server.route_prefix("GET", "/store/", [impl](const http::Request& rq, http::Response& rs) {
    serve_model_file(impl->options.model_store_dir, rq, rs);
  });
}

void Gateway::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->routes.stop();
  impl_->load.stop();
  impl_->usage.stop();
}

Status Gateway::flush_usage() { return impl_->usage.flush(); }

}  // namespace scn::broker
