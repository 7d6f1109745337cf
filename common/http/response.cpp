// Headers, Request, Response and the JSON error answers (no Beast here).
#include <algorithm>
#include <boost/json.hpp>

#include "common/http/response_channel.h"
#include "common/utf8.h"
#include "common/http/server.h"

namespace scn::http {

namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// ---- Headers ----------------------------------------------------------------

Headers::Headers(std::initializer_list<std::pair<std::string, std::string>> fields) {
  for (const auto& [k, v] : fields) add(k, v);
}

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  if (fields_.capacity() == 0) fields_.reserve(8);  // not 1, 2, 4, 8: a move of every field each time
  fields_.emplace_back(std::string(name), std::string(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return iequals(f.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::string Headers::get_or(std::string_view name, std::string_view fallback) const {
  auto v = get(name);
  return std::string(v ? *v : fallback);
}

// ---- Request ----------------------------------------------------------------

std::optional<std::string_view> Request::query_param(std::string_view key) const {
  for (const auto& [k, v] : query)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::string_view Request::header(std::string_view name) const {
  auto v = headers.get(name);
  return v ? *v : std::string_view();
}

// ---- Response ---------------------------------------------------------------

Response::Response() : gone_(std::make_shared<std::atomic<bool>>(false)) {}

Response::Response(std::shared_ptr<detail::ResponseChannel> channel)
    : gone_(channel ? channel->gone : std::make_shared<std::atomic<bool>>(false)),
      channel_(std::move(channel)) {}

Response::~Response() = default;

void Response::set_content(int status, std::string body, std::string_view content_type) {
  status_ = status;
  body_ = std::move(body);
  headers_.set("Content-Type", content_type);
}

void Response::set_json(int status, std::string body) {
  set_content(status, std::move(body), "application/json");
}

bool Response::start_stream(int status, const Headers& headers) {
  if (streaming_ || client_gone()) return false;
  status_ = status;
  for (const auto& [k, v] : headers.fields()) headers_.set(k, v);
  streaming_ = true;
  if (!channel_) return true;
  if (!channel_->start_stream(status_, headers_)) {
    mark_client_gone();
    return false;
  }
  return true;
}

bool Response::write(std::string_view chunk) {
  if (!streaming_ || ended_ || client_gone()) return false;
  if (chunk.empty()) return true;
  if (!channel_) {
    chunks_.emplace_back(chunk);
    body_.append(chunk);
    return true;
  }
  if (!channel_->write(chunk)) {
    mark_client_gone();
    return false;
  }
  return true;
}

void Response::end() {
  if (!streaming_ || ended_) return;
  ended_ = true;
  if (channel_) channel_->end();
}

// ---- errors -----------------------------------------------------------------

std::string error_body(std::string_view type, std::string_view message) {
  boost::json::object error;
  error["type"] = common::sanitize_utf8(type);
  error["message"] = common::sanitize_utf8(message);
  boost::json::object root;
  root["error"] = std::move(error);
  return boost::json::serialize(root);
}

std::string error_body(const Status& status) {
  return error_body(status.error_type(), status.message());
}

void error_response(Response& response, const Status& status) {
  error_response(response, status.http_status(), status.error_type(), status.message());
}

void error_response(Response& response, int http_status, std::string_view type,
                    std::string_view message) {
  response.set_json(http_status, error_body(type, message));
}

}  // namespace scn::http
