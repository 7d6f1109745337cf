// ApiSession: a client of the broker's REST API as a person (login, session
// cookie) or a program (API key), for `scn up` and the end-to-end tests.
//
// Contract:
//  - login() POSTs /api/v1/auth/login and keeps the `scn_session` cookie of a
//    200 answer for the later calls; any other answer is returned as is (the
//    session stays anonymous).
//  - use_api_key() makes later calls send `Authorization: Bearer <key>`.
//  - call() sends one request (JSON body when not empty) and answers the
//    status, the raw body and the body parsed as JSON (null when it is not
//    JSON). Transport failures are the Status of common/http/client.h.
//  - Not thread-safe: one call at a time (make one session per thread).
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::broker {

struct ApiAnswer {
  int status = 0;
  std::string raw;
  boost::json::value body;  // null when raw is not JSON
  std::string header_retry_after;

  // body["field"] as a string ("" when absent or not a string).
  std::string str(std::string_view field) const;
};

class ApiSession {
 public:
  explicit ApiSession(std::string base_url,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

  Result<ApiAnswer> login(std::string_view username, std::string_view password);
  void use_api_key(std::string key) { api_key_ = std::move(key); }
  Result<ApiAnswer> call(std::string_view method, std::string_view path, std::string_view body = {});

  const std::string& base_url() const { return base_url_; }
  const std::string& cookie() const { return cookie_; }

 private:
  std::string base_url_;
  std::chrono::milliseconds timeout_;
  std::string cookie_;  // "scn_session=..." or ""
  std::string api_key_;
};

}  // namespace scn::broker
