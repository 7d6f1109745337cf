#include "broker/up/api_session.h"

#include <boost/json.hpp>

#include "common/http/client.h"

namespace scn::broker {

std::string ApiAnswer::str(std::string_view field) const {
  if (!body.is_object()) return "";
  const auto* v = body.as_object().if_contains(field);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

ApiSession::ApiSession(std::string base_url, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), timeout_(timeout) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<ApiAnswer> ApiSession::call(std::string_view method, std::string_view path, std::string_view body) {
  http::Headers headers;
  if (!body.empty()) headers.set("Content-Type", "application/json");
  if (!cookie_.empty()) headers.set("Cookie", cookie_);
  if (!api_key_.empty()) headers.set("Authorization", "Bearer " + api_key_);
  auto r = http::request(method, base_url_ + std::string(path), body, headers, timeout_);
  if (!r.is_ok()) return r.status().with_context(std::string(method) + " " + std::string(path));
  ApiAnswer a;
  a.status = r->status;
  a.raw = std::move(r->body);
  a.header_retry_after = r->headers.get_or("Retry-After", "");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(a.raw, ec);
  if (!ec) a.body = std::move(v);
  if (method == "POST" && path == "/api/v1/auth/login" && a.status == 200) {
    for (const auto& [name, value] : r->headers.fields()) {
      if (!http::iequals(name, "Set-Cookie") || value.rfind("scn_session=", 0) != 0) continue;
      cookie_ = value.substr(0, value.find(';'));
    }
  }
  return a;
}

Result<ApiAnswer> ApiSession::login(std::string_view username, std::string_view password) {
  boost::json::object o{{"username", username}, {"password", password}};
  return call("POST", "/api/v1/auth/login", boost::json::serialize(o));
}

}  // namespace scn::broker
