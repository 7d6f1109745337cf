// Internal to common/http: what the blocking client (client.cpp) and the
// asynchronous one (async_client.cpp) share - the URL of a request and the
// head they send - and the server's answers use (header field text).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/http/server.h"  // Headers
#include "common/status.h"

namespace scn::http::detail {

struct UrlTarget {
  std::string host;        // for connecting ("::1", "example.org")
  std::string host_field;  // for the Host header ("[::1]:8080")
  std::string port;        // "80" when the URL names none
  std::string path;        // request target, "/" at least
};

// Appends a header field's name or value with CR and LF made spaces (no
// field can end early).
void append_field_text(std::string& out, std::string_view text);

// An "http://" URL (kInvalidArgument: malformed, another scheme, no host, a
// port over 65535).
Result<UrlTarget> parse_http_url(std::string_view url);

// `out` = the head of a request: the request line, Host and User-Agent unless
// `headers` has them, the fields of `headers` (not Content-Length or
// Transfer-Encoding; CR and LF in names and values become spaces),
// Content-Length when there is a body or the method is POST or PUT, and the
// blank line. kInvalidArgument for a malformed method.
Status format_request_head(std::string& out, std::string_view method, const UrlTarget& target,
                           const Headers& headers, std::size_t body_size);

// True when the connected socket `fd`, idle since its last answer, was
// closed by its peer or has unasked bytes waiting (not worth sending on).
bool idle_socket_unusable(int fd);

}  // namespace scn::http::detail
