// The demo tenant's API key and `stories` service, set up through the
// broker's own REST API (as the demo member), as a user would.
//
// Contract:
//  - ensure_api_key() reuses the key recorded in `creds` when the gateway
//    still accepts it (GET /v1/models answers 200), else creates one
//    (POST /api/v1/api-keys) and records its id and secret in `creds`.
//    Answers the secret.
//  - launch_demo_service() finds the tenant's service `stories` (or creates
//    it: model stories260k, 2 replicas), scales it to 2 replicas when it has
//    fewer (a stopped one is started again), then polls GET
//    /api/v1/services/{id} every second until 2 replicas are ready, printing
//    each change through `progress`. kUnavailable with the replicas' reasons
//    when `ready_timeout` passes; kCancelled when stop_requested() says so.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "broker/up/up_files.h"
#include "common/status.h"

namespace scn::broker {

struct DemoServiceOptions {
  std::string broker_url;  // http://127.0.0.1:8000
  std::string username;
  std::string password;
  std::string service_name = "stories";
  std::string model = "stories260k";
  int replicas = 2;
  std::chrono::seconds ready_timeout{120};
  std::function<bool()> stop_requested;
  std::function<void(const std::string&)> progress;
};

Result<std::string> ensure_api_key(const DemoServiceOptions& options, UpCredentials& creds);
Status launch_demo_service(const DemoServiceOptions& options);

}  // namespace scn::broker
