// Gateway: the broker's OpenAI-compatible front (/v1/models,
// /v1/completions, /v1/chat/completions) and its model store (/store/...).
//
// Contract (docs/API.md, "OpenAI-compatible gateway" and "Model store"):
//  - Callers authenticate with "Authorization: Bearer <api key>" (401 with
//    an OpenAI error body when the key is missing, unknown, revoked,
//    expired, or its tenant suspended; keys are cached for 1 s).
//  - `model` names one of the key's tenant's services (not deleted); any
//    other name - also another tenant's service - is 404 model_not_found.
//    The body must be a JSON object with a string "model" (400); bodies over
//    the server's limit (8 MiB by default) are 413 by the http::Server.
//  - The request goes to a ready replica of the service (RouteTable,
//    EndpointBalancer); a replica that cannot be reached or fails before
//    answering is set aside for a few seconds and the next one is tried (3
//    tries in all). No ready replica, or none answered: 503 with
//    Retry-After: 2. Answers of a replica (also its errors) pass through;
//    streams pass through as they come.
//  - Each answered request is counted with its prompt and completion tokens
//    per (tenant, service, API key); the counts are written to
//    usage_records every `usage_flush` and on stop().
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
