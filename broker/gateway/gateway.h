// Gateway: the broker's OpenAI-compatible front (/v1/models,
// /v1/completions, /v1/chat/completions) and its model store (/store/...).
//
// Contract (docs/API.md, "OpenAI-compatible gateway" and "Model store"):
//  - Callers authenticate with "Authorization: Bearer <api key>" (401 with
//    an OpenAI error body when the key is missing, unknown, revoked or
//    expired; 403 tenant_suspended when its tenant is suspended; keys are
//    cached for 1 s).
//  - `model` names one of the key's tenant's services (not deleted); any
//    other name - also another tenant's service - is 404 model_not_found.
//    The body must be a JSON object with a string "model" (400); bodies over
//    the server's limit (8 MiB by default) are 413 by the http::Server.
//  - Every answer carries `x-request-id`: the client's own when it sent a
//    sane one (request_log.h), else a new "req_..." id; it is also sent to
//    the replica.
//  - The request goes to a ready replica of the service (RouteTable,
//    EndpointBalancer: least loaded, with prefix affinity; ReplicaProbe
//    reads the workers' load every `probe_period`); a replica that cannot
//    be reached or fails before answering is set aside for a few seconds
//    and the next one is tried (3 tries in all). No ready replica: the
//    request waits up to `route_wait` for one (routes polled every 100 ms;
//    not for a stopped or failed service), then 503 with Retry-After: 2;
//    none of the tries answered: 503 at once. Answers of a replica (also its
//    errors) pass through; streams pass through as they come, and a stream
//    that breaks ends with an error event and [DONE] (proxy.h).
//  - A service autoscaled with min_replicas 0 that has no ready replica is
//    woken (ServiceLoad::wake) and the request held, polling its routes
//    every 100 ms, until a replica is ready (then forwarded, with the header
//    `x-scn-cold-start-ms` and the histogram scn_broker_cold_start_seconds)
//    or `cold_start_hold` passes (503 no_ready_replica, Retry-After: 2,
//    counted in scn_broker_cold_start_timeouts_total). Requests in flight
//    per service, and the time to the first byte of each answered (200)
//    request, are published for the autoscaler every `load_publish`.
//  - Each answered request is counted with its prompt, cached prompt and
//    completion tokens per (tenant, service, API key, model, center); the
//    counts are written to usage_records every `usage_flush` and on stop().
//    Each request of a known tenant (authenticated) is logged with its route,
//    status, tokens and latency (RequestLog, same period; rows older than
//    `request_log_retention` are deleted).
//  - start() starts the routes subscriber and the usage flusher; stop()
//    stops them and flushes. add_routes() may be called before start().
//    The Gateway must outlive the server it was added to (or the server must
//    be stopped first).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "broker/broker_context.h"
#include "common/http/server.h"
#include "common/status.h"

namespace scn::broker {

struct GatewayOptions {
  std::chrono::milliseconds usage_flush{1000};
  std::chrono::milliseconds route_ttl{1000};
  std::chrono::milliseconds upstream_timeout{300000};
  std::string model_store_dir;  // "" = no model store (every /store/ path is 404)
  std::chrono::milliseconds api_key_ttl{1000};
  std::chrono::milliseconds bad_endpoint_for{3000};
  // Scale to zero: how long a request to a service that may be at zero and
  // has no ready replica is held while it wakes (0: answer 503 at once),
  // and how often the per-service load is published (service_load.h).
  std::chrono::milliseconds cold_start_hold{60000};
  std::chrono::milliseconds load_publish{1000};
  std::string broker_id;  // the field name in scn:load:{id}; "" = pid + random
  // Routing (broker v2): waiting for a ready replica, the workers' load
  // probe (0: off), prefix affinity.
  std::chrono::milliseconds route_wait{10000};
  std::chrono::milliseconds probe_period{1000};
  int affinity_margin = 2;
  std::chrono::hours request_log_retention{24 * 30};
};

class Gateway {
 public:
  Gateway(BrokerContext& ctx, GatewayOptions options);
  ~Gateway();  // stop()s
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  Status start();  // subscriber + usage flusher threads
  void add_routes(http::Server& server);
  void stop();     // flushes usage; idempotent

  // Writes the usage counted so far now (tests, shutdown).
  Status flush_usage();
  // Writes the request log queued so far now (tests).
  Status flush_request_log();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
