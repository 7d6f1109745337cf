#include "broker/api_router.h"

#include <boost/json.hpp>

#include <algorithm>
#include <exception>
#include <set>

#include "broker/api_key_auth.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/metrics.h"

namespace scn::broker {
namespace {

// Largest /api/v1 request body (docs/API.md); the server's own limit is larger
// because the OpenAI gateway shares it.
constexpr std::size_t kMaxApiBodyBytes = 1u << 20;

// PostgreSQL text cannot hold NUL (libpq would cut the value at it): a NUL
// in any string of a body, a query parameter or the path is a clean 400.
Status no_nul_in(const boost::json::value& v, const std::string& where);

Status no_nul_in_object(const boost::json::object& o, const std::string& where) {
  for (const auto& kv : o) {
    if (kv.key().find('\0') != boost::json::string_view::npos)
      return Status::invalid_argument("field names must not contain NUL characters");
    const std::string key = common::sanitize_utf8(std::string(kv.key()));
    SCN_RETURN_IF_ERROR(no_nul_in(kv.value(), where.empty() ? key : where + "." + key));
  }
  return Status::ok();
}

Status no_nul_in(const boost::json::value& v, const std::string& where) {
  switch (v.kind()) {
    case boost::json::kind::string:
      if (v.get_string().find('\0') != boost::json::string::npos)
        return Status::invalid_argument("field '" + where + "' must not contain NUL characters");
      return Status::ok();
    case boost::json::kind::array: {
      const auto& a = v.get_array();
      for (std::size_t i = 0; i < a.size(); ++i)
        SCN_RETURN_IF_ERROR(no_nul_in(a[i], where + "[" + std::to_string(i) + "]"));
      return Status::ok();
    }
    case boost::json::kind::object:
      return no_nul_in_object(v.get_object(), where);
    default:
      return Status::ok();
  }
}

Status no_nul_in_request(const http::Request& request) {
  if (request.path.find('\0') != std::string::npos)
    return Status::invalid_argument("the path must not contain NUL characters");
  for (const auto& [key, value] : request.query) {
    if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
      return Status::invalid_argument("param '" + common::sanitize_utf8(key.substr(0, key.find('\0'))) +
                                      "' must not contain NUL characters");
  }
  return Status::ok();
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// "field 'name' must be ..." -> "name"; nullopt when the message names no field.
std::optional<std::string> param_of(std::string_view message) {
  for (std::string_view marker : {"field '", "param '"}) {
    auto at = message.find(marker);
    if (at == std::string_view::npos) continue;
    auto start = at + marker.size();
    auto end = message.find('\'', start);
    if (end == std::string_view::npos || end == start) continue;
    return std::string(message.substr(start, end - start));
  }
  return std::nullopt;
}

void send_error(http::Response& response, int http_status, std::string_view type,
                const std::string& message) {
  boost::json::object error;
  error["type"] = type;
  error["message"] = common::sanitize_utf8(message);
  if (auto p = param_of(message)) {
    error["param"] = common::sanitize_utf8(*p);
  } else {
    error["param"] = nullptr;
  }
  error["code"] = nullptr;
  boost::json::object root;
  root["error"] = std::move(error);
  response.set_json(http_status, boost::json::serialize(root));
}

// Members of a suspended tenant read and sign out; nothing else changes.
bool changes_state(std::string_view method) { return method != "GET" && method != "HEAD"; }
bool allowed_while_suspended(std::string_view pattern) {
  return pattern == "/api/v1/auth/logout" || pattern == "/api/v1/auth/password";
}

void send_error(http::Response& response, const Status& status) {
  send_error(response, status.http_status(), status.error_type(), status.message());
}

}  // namespace

struct ApiRouter::Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{id}" for parameters
  std::vector<bool> is_param;
  Access access = Access::kPublic;
  ApiHandler handler;

  // Fills `params` and returns true when `parts` match.
  bool match(const std::vector<std::string>& parts,
             std::map<std::string, std::string, std::less<>>* params) const {
    if (parts.size() != segments.size()) return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (is_param[i]) {
        if (parts[i].empty()) return false;
      } else if (parts[i] != segments[i]) {
        return false;
      }
    }
    if (params != nullptr) {
      params->clear();
      for (std::size_t i = 0; i < parts.size(); ++i) {
        if (is_param[i]) {
          (*params)[segments[i].substr(1, segments[i].size() - 2)] = parts[i];
        }
      }
    }
    return true;
  }

  // True when this route is more specific than `other` (both matching the
  // same path): the first segment where they differ is exact here.
  bool more_specific_than(const Route& other) const {
    for (std::size_t i = 0; i < is_param.size() && i < other.is_param.size(); ++i) {
      if (is_param[i] != other.is_param[i]) return !is_param[i];
    }
    return false;
  }
};

std::string_view ApiCall::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string_view() : std::string_view(it->second);
}

std::string ApiCall::client_ip() const {
  std::string_view addr = request.remote_address;
  auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return std::string(addr);
  addr = addr.substr(0, colon);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  return std::string(addr);
}

void reply_json(ApiCall& call, int status, const boost::json::value& body) {
  call.response.set_json(status, boost::json::serialize(body));
}

void reply_empty(ApiCall& call, int status) {
  call.response.set_status(status);
  call.response.set_body({});
}

Result<common::JsonObject> json_body(const ApiCall& call) {
  const std::string& body = call.request.body;
  if (body.size() > kMaxApiBodyBytes) {
    return Status::too_large("request body is larger than " + std::to_string(kMaxApiBodyBytes) +
                             " bytes");
  }
  if (body.empty()) return Status::invalid_argument("request body must be a JSON object (it is empty)");
  SCN_ASSIGN_OR_RETURN(common::JsonObject obj, common::parse_json_object(body));
  SCN_RETURN_IF_ERROR(no_nul_in_object(obj, ""));
  return obj;
}

ApiRouter::ApiRouter(Authenticator authenticator) : authenticator_(std::move(authenticator)) {}
ApiRouter::~ApiRouter() = default;

void ApiRouter::add(std::string method, std::string pattern, Access access, ApiHandler handler) {
  auto route = std::make_unique<Route>();
  route->method = std::move(method);
  route->pattern = std::move(pattern);
  route->segments = split_path(route->pattern);
  for (const auto& s : route->segments) {
    route->is_param.push_back(s.size() >= 3 && s.front() == '{' && s.back() == '}');
  }
  route->access = access;
  route->handler = std::move(handler);
  routes_.push_back(std::move(route));
}

void ApiRouter::dispatch(const http::Request& request, http::Response& response) const {
  struct Count {
    const http::Request& req;
    const http::Response& res;
    ~Count() {
      metrics::default_registry()
          .counter("scn_broker_api_requests_total", "/api/v1 requests answered, by method and status",
                   {{"method", req.method}, {"status", std::to_string(res.status())}})
          .inc();
    }
  } count{request, response};
  const auto parts = split_path(request.path);
  const Route* best = nullptr;
  std::set<std::string> allowed;
  for (const auto& route : routes_) {
    if (!route->match(parts, nullptr)) continue;
    if (route->method != request.method) {
      allowed.insert(route->method);
      continue;
    }
    if (best == nullptr || route->more_specific_than(*best)) best = route.get();
  }
  if (best == nullptr) {
    if (allowed.empty()) {
      send_error(response, Status::not_found("no such endpoint: " + request.method + " " +
                                             common::sanitize_utf8(request.path)));
      return;
    }
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    response.set_header("Allow", allow);
    send_error(response, 405, "invalid_request_error",
                         "method " + request.method + " is not allowed here (allowed: " + allow + ")");
    return;
  }

  ApiCall call{request, response, nullptr, {}};
  best->match(parts, &call.params);
  try {
    std::optional<Principal> principal;
    if (best->access == Access::kAuthenticated) {
      Result<Principal> who = authenticator_
                                  ? authenticator_(request)
                                  : Result<Principal>(Status::unauthenticated("authentication required"));
      if (!who.is_ok()) {
        Status st = who.status();
        if (st.code() == Code::kUnauthenticated) {
          response.set_header("WWW-Authenticate", "Bearer");
        }
        if (is_tenant_suspended(st)) {
          send_error(response, 403, kTenantSuspendedType, st.message());
          return;
        }
        send_error(response, st);
        return;
      }
      principal.emplace(std::move(who).value());
      call.principal = &*principal;
      if (principal->tenant_suspended && changes_state(request.method) && !allowed_while_suspended(best->pattern)) {
        send_error(response, 403, kTenantSuspendedType,
                   "your tenant is suspended: you can sign in and look, but changes are refused until an "
                   "administrator reinstates it");
        return;
      }
    }
    if (Status nul = no_nul_in_request(request); !nul.is_ok()) {
      send_error(response, nul);
      return;
    }
    Status st = best->handler(call);
    if (!st.is_ok()) send_error(response, st);
  } catch (const std::exception& e) {
    common::log_error("api: ", request.method, " ", best->pattern, ": exception: ", e.what());
    send_error(response, Status::internal("internal error"));
  } catch (...) {
    common::log_error("api: ", request.method, " ", best->pattern, ": unknown exception");
    send_error(response, Status::internal("internal error"));
  }
}

void ApiRouter::mount(http::Server& server, const std::string& prefix) const {
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    server.route_prefix(method, prefix,
                        [this](const http::Request& req, http::Response& res) { dispatch(req, res); });
  }
}

std::vector<std::pair<std::string, std::string>> ApiRouter::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.emplace_back(r->method, r->pattern);
  return out;
}

}  // namespace scn::broker
