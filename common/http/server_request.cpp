// Turning a parsed message into a Request, and finding its route.
#include <boost/url/parse.hpp>

#include <exception>

#include "common/http/server_internal.h"

namespace scn::http::detail {

bool build_request(boost::beast::http::request<boost::beast::http::string_body>& req,
                   Request& request) {
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.version = static_cast<int>(req.version());
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) url = boost::urls::parse_absolute_uri(request.target);
  if (!url) return false;
  try {
    request.path = url->path();
    for (auto p : url->params()) request.query.emplace_back(p.key, p.value);
  } catch (const std::exception&) {
    return false;
  }
  if (request.path.empty()) request.path = "/";
  for (const auto& f : req) request.headers.add(f.name_string(), f.value());
  request.body = std::move(req.body());
  return true;
}

const Route* match_route(const std::vector<Route>& routes, const Request& request,
                         std::string& allow) {
  const Route* match = nullptr;
  for (const auto& r : routes) {
    bool path_ok = r.prefix ? request.path.starts_with(r.path) : request.path == r.path;
    if (!path_ok) continue;
    if (r.method != request.method) {
      if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
      continue;
    }
    if (!match || (match->prefix && (!r.prefix || r.path.size() > match->path.size()))) match = &r;
  }
  return match;
}

}  // namespace scn::http::detail
