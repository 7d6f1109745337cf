#include "broker/gateway/gateway.h"

#include <boost/json.hpp>

#include <vector>

#include "broker/api_key_auth.h"
#include "broker/limits/rate_limiter.h"  // issue 5: rate limits (b5q)
#include "broker/gateway/model_store.h"
#include "broker/gateway/proxy.h"
#include "broker/gateway/replica_probe.h"
#include "broker/gateway/request_log.h"
#include "broker/gateway/route_table.h"
#include "broker/gateway/service_load.h"
#include "broker/gateway/usage_meter.h"
#include "common/http/async_client.h"
#include "common/db/pg.h"
#include "common/json.h"
#include "common/crypto/crypto.h"
#include "common/log.h"
#include "common/crypto/worker_secret.h"
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
        limiter(c.pg, c.redis_url, limits::RateLimiterOptions{.key_prefix = c.redis_prefix}),
        routes(c.pg, c.redis, c.redis_url, options.route_ttl),
        usage(c.pg),
        requests(c.pg, options.request_log_retention),
        balancer(BalancerOptions{options.bad_endpoint_for, options.affinity_margin}),
        probe(balancer),
        worker_secrets(c.pg),
        load(c.redis, c.redis_prefix,
             options.broker_id.empty() ? default_broker_id() : options.broker_id),
        cold_starts(metrics::default_registry().histogram(
            "scn_broker_cold_start_seconds",
            "Time requests to a service at zero were held until a replica was ready",
            {0.5, 1, 2, 5, 10, 20, 30, 60, 120})),
        cold_start_timeouts(metrics::default_registry().counter(
            "scn_broker_cold_start_timeouts_total",
            "Requests to a service at zero answered 503 after the hold")),
        fast_forwards(metrics::default_registry().counter(
            "scn_broker_fast_path_requests_total",
            "Completions forwarded from an IO thread with the asynchronous client (no worker thread)")) {}

  static std::string default_broker_id() {
    auto r = crypto::new_secret("");
    return "pid-" + std::to_string(::getpid()) + "-" + (r.is_ok() ? r->substr(0, 8) : "x");
  }

  BrokerContext& ctx;
  GatewayOptions options;
  ApiKeyCache keys;
  limits::RateLimiter limiter;  // scopes, rate limits, budgets (broker/limits)
  RouteTable routes;
  UsageMeter usage;
  RequestLog requests;
  EndpointBalancer balancer;
  ReplicaProbe probe;
  crypto::WorkerSecrets worker_secrets;  // replicas' Authorization (docs/API.md, worker authentication)
  ServiceLoad load;
  metrics::Histogram& cold_starts;
  metrics::Counter& cold_start_timeouts;
  metrics::Counter& fast_forwards;
  http::AsyncClient upstream{http::AsyncClientOptions{.max_idle_per_endpoint = 256}};
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
      } else if (is_tenant_suspended(p.status())) {
        openai_error(response, 403, kTenantSuspendedType, p.status().message(), {}, kTenantSuspendedType);
      } else {
        openai_error(response, 503, "unavailable_error", "cannot check the API key now");
        response.set_header("Retry-After", "2");
      }
      return std::nullopt;
    }
    return std::move(p).value();
  }

  // The client's sane x-request-id or a new one, set on the answer.
  static std::string request_id_for(const http::Request& request, http::Response& response) {
    std::string id(request.header("x-request-id"));
    if (!sane_request_id(id)) id = new_request_id();
    response.set_header("x-request-id", id);
    return id;
  }

  // POST /v1/embeddings (issue 5, b5q): no model served here makes
  // embeddings, so a known model answers an honest 404 (the OpenAI SDK's
  // NotFoundError) saying so; an unknown one 404 model_not_found as usual.
  void embeddings(const http::Request& request, http::Response& response) {
    (void)request_id_for(request, response);
    auto who = authenticate(request, response);
    if (!who) return;
    auto parsed = common::parse_json_object(request.body);
    if (!parsed.is_ok()) return openai_error(response, parsed.status());
    auto model = common::require_string(*parsed, "model");
    if (!model.is_ok()) return openai_error(response, model.status(), "model");
    auto service = routes.find_service(who->tenant_id, *model);
    if (!service.is_ok() && service.status().code() != Code::kNotFound) {
      return openai_error(response, service.status());
    }
    if (!service.is_ok() || !limiter.may_use(*who, service->id)) {
      return openai_error(response, 404, "not_found_error", "The model '" + *model + "' does not exist",
                          "model", "model_not_found");
    }
    openai_error(response, 404, "not_found_error",
                 "The model '" + *model + "' does not support embeddings: it generates text (use "
                 "/v1/completions or /v1/chat/completions)",
                 "model", "model_not_supported");
  }

  void models(const http::Request& request, http::Response& response) {
    (void)request_id_for(request, response);
    auto who = authenticate(request, response);
    if (!who) return;
    const auto scope = limiter.service_scope(*who);  // key scope (broker/limits)
    auto list = ctx.pg.with_tx(
        [&](pqxx::work& tx) -> Result<boost::json::array> {
          boost::json::array data;
          for (const auto& row : tx.exec_params(
                   "SELECT s.name, extract(epoch FROM s.created_at)::bigint, t.name, s.status, s.id"
                   "  FROM services s JOIN tenants t ON t.id = s.tenant_id"
                   " WHERE s.tenant_id = $1 AND s.deleted_at IS NULL ORDER BY s.name",
                   who->tenant_id)) {
            if (scope && std::find(scope->begin(), scope->end(), row[4].as<std::string>()) == scope->end()) continue;
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

  // One request on the IO thread's fast path (completions_async).
  struct FastCall {
    Principal who;
    ServiceRef service;
    Endpoint endpoint;
    std::uint64_t prefix = 0;
    std::optional<limits::Admission> admission;  // (optional: Admission() is not inline)
    RequestLogEntry log;
    std::chrono::steady_clock::time_point since;
  };

  // POST /v1/completions and /v1/chat/completions, first on the IO thread:
  // when all the request needs is cached and fresh (the key, the service,
  // a key policy without limits, the routes, the worker secret) and it does
  // not stream, it goes to the replica through the asynchronous client and
  // no thread waits for the answer. Everything else - a cache miss, limits
  // (Redis), streams, errors to answer, https workers - runs completions()
  // on a worker, and so does a request whose replica failed before
  // answering (after that replica was set aside).
  void completions_async(const http::Request& request, http::AsyncReply reply) {
    auto on_worker = [this, &reply] {
      reply.run_on_worker([this](const http::Request& rq, http::Response& rs) { completions(rq, rs); });
    };
    if (worker_tls()) return on_worker();
    auto who = keys.cached(bearer_token(request));
    if (!who) return on_worker();
    auto parsed = common::parse_json_object(request.body);
    if (!parsed.is_ok()) return on_worker();
    const common::JsonObject& body = *parsed;
    auto model = common::require_string(body, "model");
    auto stream = common::get_bool(body, "stream", false);
    if (!model.is_ok() || !stream.is_ok() || *stream) return on_worker();
    auto service = routes.cached_service(who->tenant_id, *model);
    if (!service) return on_worker();
    auto admission = limiter.admit_cached(*who, service->id);
    if (!admission) return on_worker();
    auto eps = routes.cached_endpoints(service->id);
    if (!eps || eps->empty()) return on_worker();
    const std::uint64_t prefix = prefix_hash(service->id, prompt_prefix(body));
    auto ep = balancer.pick(service->id, *eps, {}, prefix);
    if (!ep) return on_worker();
    auto secret = worker_secrets.loaded_for_replica(ep->replica_id);
    if (!secret) return on_worker();

    auto call = std::make_shared<FastCall>();
    call->since = std::chrono::steady_clock::now();
    RequestLogEntry& log = call->log;
    log.started_at = std::chrono::system_clock::now();
    log.request_id = std::string(request.header("x-request-id"));
    if (!sane_request_id(log.request_id)) log.request_id = new_request_id();
    log.path = request.path;
    log.tenant_id = who->tenant_id;
    log.api_key_id = who->api_key_id;
    log.model = service->model.empty() ? *model : service->model;
    log.service_id = service->id;
    log.service_name = service->name;
    log.attempts = 1;
    log.replica_id = ep->replica_id;
    log.node_id = ep->node_id;
    log.center_id = ep->center_id;
    log.replica_url = ep->url;
    call->who = std::move(*who);
    call->service = std::move(*service);
    call->endpoint = std::move(*ep);
    call->prefix = prefix;
    call->admission.emplace(std::move(*admission));

    http::Headers headers;
    headers.add("Content-Type", "application/json");
    headers.add("Accept", "application/json");
    headers.add("x-request-id", log.request_id);
    if (!secret->empty()) headers.add("Authorization", "Bearer " + *secret);
    load.begin(call->service.id);
    balancer.begin(call->endpoint.url);
    auto sent = upstream.request("POST", call->endpoint.url + request.path, request.body, std::move(headers),
                                 options.upstream_timeout, [this, call, reply](http::AsyncResult r) mutable {
                                   finish_fast(*call, std::move(r), reply);
                                 });
    if (!sent.is_ok()) {
      balancer.end(call->endpoint.url);
      load.end(call->service.id);
      return on_worker();
    }
    fast_forwards.inc();
    reply.on_client_gone([c = *sent] { c.cancel(); });
  }

  // The replica's answer (or failure) of a fast-path request, on an IO thread.
  void finish_fast(FastCall& call, http::AsyncResult r, http::AsyncReply& reply) {
    balancer.end(call.endpoint.url);
    load.end(call.service.id);
    RequestLogEntry& log = call.log;
    http::Response response;
    response.set_header("x-request-id", log.request_id);
    if (!r.response.is_ok()) {
      const Status& st = r.response.status();
      if (st.code() == Code::kCancelled) {
        log.status = 499;  // the client left; nothing more is sent
        log.error = "the client left before the answer";
      } else if (!r.answer_started) {
        common::log_warn("gateway: replica ", call.endpoint.replica_id, " at ", call.endpoint.url, " of service ",
                         call.service.name, " failed: ", st.message());
        balancer.mark_bad(call.endpoint.url);
        routes.invalidate(call.service.id);
        reply.run_on_worker([this](const http::Request& rq, http::Response& rs) { completions(rq, rs); });
        return;
      } else {
        common::log_warn("gateway: answer from ", call.endpoint.url, " broke: ", st.message());
        log.status = 502;
        log.error = st.message();
        http::error_response(response, 502, "server_error", "the model replica failed while answering");
      }
    } else {
      http::ClientResponse& answer = *r.response;
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - call.since).count();
      UsageCounts counts;
      counts.requests = 1;
      if (answer.status == 200) {
        if (auto u = usage_of_answer(answer.body)) {
          counts.prompt_tokens = u->prompt_tokens;
          counts.cached_prompt_tokens = u->cached_prompt_tokens;
          counts.completion_tokens = u->completion_tokens;
        }
        balancer.remember(call.prefix, call.endpoint.url);
        load.observe_ttft(call.service.id, ms);
        load.observe_tokens(call.service.id, counts.completion_tokens);
      }
      usage.record(UsageKey{call.who.tenant_id, call.service.id, call.who.api_key_id, call.service.model,
                            call.endpoint.center_id},
                   counts);
      call.admission->settle(counts.prompt_tokens + counts.completion_tokens);
      log.status = answer.status;
      log.prompt_tokens = counts.prompt_tokens;
      log.cached_prompt_tokens = counts.cached_prompt_tokens;
      log.completion_tokens = counts.completion_tokens;
      log.ttfb_ms = ms;
      response.set_content(answer.status, std::move(answer.body),
                           answer.headers.get_or("Content-Type", "application/json"));
    }
    // Logged before the client has the answer, as on a worker.
    log.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - call.since).count();
    requests.record(std::move(log));
    reply.complete(response);
  }

  void completions(const http::Request& request, http::Response& response) {
    const auto since = std::chrono::steady_clock::now();
    RequestLogEntry log;
    log.started_at = std::chrono::system_clock::now();
    log.request_id = request_id_for(request, response);
    log.path = request.path;
    auto who = authenticate(request, response);
    if (!who) return;  // no tenant: not logged
    log.tenant_id = who->tenant_id;
    log.api_key_id = who->api_key_id;
    handle_completion(*who, request, response, log);
    if (log.status == 0) log.status = response.status();
    log.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
    requests.record(std::move(log));
  }

  void handle_completion(const Principal& who, const http::Request& request, http::Response& response,
                         RequestLogEntry& log) {
    auto parsed = common::parse_json_object(request.body);
    if (!parsed.is_ok()) return openai_error(response, parsed.status());
    common::JsonObject body = std::move(parsed).value();
    auto model = common::require_string(body, "model");
    if (!model.is_ok()) return openai_error(response, model.status(), "model");
    log.model = *model;
    auto service = routes.find_service(who.tenant_id, *model);
    if (!service.is_ok()) {
      if (service.status().code() == Code::kNotFound) {
        return openai_error(response, 404, "not_found_error", service.status().message(), "model",
                            "model_not_found");
      }
      return openai_error(response, service.status());
    }
    log.service_id = service->id;
    log.service_name = service->name;
    if (!service->model.empty()) log.model = service->model;

    // Quotas and rate limits (broker/limits): a refusal (key scoped to other
    // services: 404; a limit reached: 429) is answered here and returns.
    limits::Admission admission = limiter.admit(who, service->id, body, response);
    if (!admission.admitted()) return;

    ProxyRequest preq;
    preq.path = request.path;
    preq.timeout = options.upstream_timeout;
    preq.request_id = log.request_id;
    preq.prefix = prefix_hash(service->id, prompt_prefix(body));
    auto stream = common::get_bool(body, "stream", false);
    preq.stream = stream.is_ok() && *stream;
    log.stream = preq.stream;
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
    ForwardOutcome out = proxy(who, *service, preq, response, log);
    load.end(service->id);
    if (out.result == ForwardResult::kAnswered && out.status == 200 && out.ttfb_ms >= 0)
      load.observe_ttft(service->id, out.ttfb_ms);  // the autoscaler's TTFT (service_load.h)
    if (out.result == ForwardResult::kAnswered && out.status == 200)
      load.observe_tokens(service->id, out.usage.completion_tokens);  // and its tokens/s
    if (out.result != ForwardResult::kAnswered && out.client_left) log.status = 499;
    if (out.result == ForwardResult::kAnswered) {
      log.status = out.client_left && out.status == 200 ? 499 : out.status;
      log.prompt_tokens = out.usage.prompt_tokens;
      log.cached_prompt_tokens = out.usage.cached_prompt_tokens;
      log.completion_tokens = out.usage.completion_tokens;
      log.ttfb_ms = out.ttfb_ms;
      if (out.stream_broken) log.error = out.error;
    }
    // Quotas and rate limits settle to the tokens really used (a request
    // no replica answered gives its reservation back when `admission` ends).
    if (out.result == ForwardResult::kAnswered) {
      admission.settle(out.usage.prompt_tokens + out.usage.completion_tokens);
    }
  }

  // Waits for a ready replica of `service` for up to `bound` (waking it
  // first when `wake`), or until the client leaves. The milliseconds
  // waited, or nullopt.
  std::optional<int64_t> hold_for_replica(const ServiceRef& service, http::Response& response, bool wake,
                                          std::chrono::milliseconds bound) {
    const auto since = std::chrono::steady_clock::now();
    if (wake) {
      Status woke = load.wake(service.id);
      if (!woke.is_ok()) common::log_warn("gateway: wake ", service.id, ": ", woke.to_string());
    }
    const auto deadline = since + bound;
    while (std::chrono::steady_clock::now() < deadline && !response.client_gone()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      routes.invalidate(service.id);
      auto eps = routes.endpoints(service.id);
      if (eps.is_ok() && !eps->empty()) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - since);
        if (wake) {
          cold_starts.observe(static_cast<double>(waited.count()) / 1000.0);
          common::log_info("gateway: service ", service.name, " woke after ", waited.count(), " ms");
        }
        return waited.count();
      }
    }
    if (wake) cold_start_timeouts.inc();
    return std::nullopt;
  }

  ForwardOutcome proxy(const Principal& who, const ServiceRef& service, const ProxyRequest& preq,
                       http::Response& response, RequestLogEntry& log) {
    std::vector<std::string> tried;
    ForwardOutcome out;
    for (int attempt = 0; attempt < kMaxTries; ++attempt) {
      auto eps = routes.endpoints(service.id);
      if (!eps.is_ok()) {
        common::log_warn("gateway: routes of ", service.id, ": ", eps.status().to_string());
        log.error = eps.status().message();
        break;
      }
      if (eps->empty() && tried.empty()) {
        const bool cold = service.scales_to_zero && options.cold_start_hold.count() > 0;
        const bool may_come = service.status != "stopped" && service.status != "failed";
        if (!cold && !(may_come && options.route_wait.count() > 0)) break;
        auto waited = hold_for_replica(service, response, cold, cold ? options.cold_start_hold : options.route_wait);
        if (!waited) break;
        if (cold) response.set_header("x-scn-cold-start-ms", std::to_string(*waited));
        eps = routes.endpoints(service.id);
        if (!eps.is_ok()) break;
      }
      auto ep = balancer.pick(service.id, *eps, tried, preq.prefix);
      if (!ep) break;
      log.attempts = attempt + 1;
      log.replica_id = ep->replica_id;
      log.node_id = ep->node_id;
      log.center_id = ep->center_id;
      log.replica_url = ep->url;
      balancer.begin(ep->url);
      Endpoint target = *ep;
      if (auto ws = worker_secrets.for_replica(ep->replica_id); ws.is_ok())
        target.worker_secret = *ws;
      else
        common::log_warn("gateway: worker secret of replica ", ep->replica_id, ": ", ws.status().to_string());
      out = forward_once(target, preq, response);
      balancer.end(ep->url);
      if (out.result == ForwardResult::kAnswered) {
        if (out.status == 200) balancer.remember(preq.prefix, ep->url);
        usage.record(UsageKey{who.tenant_id, service.id, who.api_key_id, service.model, ep->center_id},
                     out.usage);
        return out;
      }
      if (out.client_left) return out;  // the client left while waiting: not the replica's fault
      common::log_warn("gateway: replica ", ep->replica_id, " at ", ep->url, " of service ", service.name,
                       " failed: ", out.error);
      log.error = out.error;
      balancer.mark_bad(ep->url);
      routes.invalidate(service.id);
      tried.push_back(ep->url);
      if (response.client_gone()) return out;
    }
    std::string message = tried.empty() ? "the model '" + service.name + "' has no ready replica"
                                        : "no replica of the model '" + service.name + "' answered";
    if (log.error.empty()) log.error = message;
    openai_error(response, 503, "unavailable_error", message, {}, "no_ready_replica");
    response.set_header("Retry-After", "2");
    return out;
  }
};

Gateway::Gateway(BrokerContext& ctx, GatewayOptions options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {}

Gateway::~Gateway() { stop(); }

Status Gateway::start() {
  if (impl_->started) return Status::ok();
  SCN_RETURN_IF_ERROR(impl_->routes.start());
  if (Status st = impl_->worker_secrets.load(); !st.is_ok())  // retried on first use
    common::log_warn("gateway: cluster key (worker secrets): ", st.to_string());
  impl_->usage.start(impl_->options.usage_flush);
  impl_->requests.start(impl_->options.usage_flush);
  if (impl_->options.probe_period.count() > 0) impl_->probe.start(impl_->options.probe_period);
  impl_->load.start(impl_->options.load_publish);
  impl_->started = true;
  return Status::ok();
}

void Gateway::add_routes(http::Server& server) {
  Impl* impl = impl_.get();
  server.route("POST", "/v1/embeddings",
               [impl](const http::Request& rq, http::Response& rs) { impl->embeddings(rq, rs); });
  server.route("GET", "/v1/models",
               [impl](const http::Request& rq, http::Response& rs) { impl->models(rq, rs); });
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    server.route_async("POST", path,
                       [impl](const http::Request& rq, http::AsyncReply reply) { impl->completions_async(rq, reply); });
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
  impl_->probe.stop();
  impl_->usage.stop();
  impl_->requests.stop();
}

Status Gateway::flush_usage() { return impl_->usage.flush(); }

Status Gateway::flush_request_log() { return impl_->requests.flush(); }

}  // namespace scn::broker
