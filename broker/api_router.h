// ApiRouter: the broker's /api/v1 endpoints - path patterns with {params},
// authentication, and one error format.
//
// Contract:
//  - add(method, pattern, access, handler): pattern segments in braces are
//    parameters ("/api/v1/services/{id}/scale"). Exact segments win over
//    parameters when both match.
//  - dispatch() (mounted on the http::Server for every method under
//    "/api/v1/") finds the route (no route: 404; a route under other methods
//    only: 405 with Allow), authenticates the caller for Access::kAuthenticated
//    routes through the Authenticator (no credentials or bad ones: 401; an
//    API key of a suspended tenant: 403 "tenant_suspended"; a member of a
//    suspended tenant calling anything but GET/HEAD, sign-out or a change
//    of their own password: 403 "tenant_suspended"), runs
//    the handler, and answers a non-OK Status it returns with
//    http::error_response (right HTTP status, {"error": {...}} body). An
//    exception escaping a handler is logged and answered 500.
//  - Handlers answer by calling reply_json()/reply_empty() (or writing
//    call.response themselves) and returning OK.
//  - A NUL character in the path, a query parameter or any string of a
//    json_body() (PostgreSQL text cannot hold one) is 400.
//  - json_body() parses the request body as a JSON object (400 with a clear
//    message for malformed JSON, invalid UTF-8, not an object).
#pragma once

#include <boost/json/fwd.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/principal.h"
#include "common/http/server.h"
#include "common/json.h"
#include "common/status.h"

namespace scn::broker {

enum class Access { kPublic, kAuthenticated };

struct ApiCall {
  const http::Request& request;
  http::Response& response;
  const Principal* principal = nullptr;  // set for kAuthenticated routes
  std::map<std::string, std::string, std::less<>> params;

  // A path parameter ("" when the pattern has none of that name).
  std::string_view param(std::string_view name) const;
  // The caller's address without the port ("127.0.0.1").
  std::string client_ip() const;
  // The principal of a kAuthenticated route.
  const Principal& who() const { return *principal; }
};

using ApiHandler = std::function<Status(ApiCall&)>;
// Credentials of a request -> Principal; kUnauthenticated when absent or bad.
using Authenticator = std::function<Result<Principal>(const http::Request&)>;

void reply_json(ApiCall& call, int status, const boost::json::value& body);
void reply_empty(ApiCall& call, int status = 204);
Result<common::JsonObject> json_body(const ApiCall& call);

class ApiRouter {
 public:
  explicit ApiRouter(Authenticator authenticator);
  ~ApiRouter();

  void add(std::string method, std::string pattern, Access access, ApiHandler handler);
  void dispatch(const http::Request& request, http::Response& response) const;
  // Mounts dispatch() on `server` for GET, POST, PUT, PATCH, DELETE under `prefix`.
  void mount(http::Server& server, const std::string& prefix = "/api/v1/") const;
  // (method, pattern) of every route, in the order added (the authorization
  // matrix test compares them with docs/API.md).
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Route;
  Authenticator authenticator_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace scn::broker
