// The URL and request head of the HTTP clients (client_request.h).
#include "common/http/client_request.h"

#include <boost/url/parse.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace scn::http::detail {

void append_field_text(std::string& out, std::string_view text) {
  if (std::memchr(text.data(), '\r', text.size()) == nullptr &&
      std::memchr(text.data(), '\n', text.size()) == nullptr) {
    out.append(text);
    return;
  }
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
}

Result<UrlTarget> parse_http_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Status::invalid_argument("malformed URL '" + std::string(url) + "'");
  const auto& u = *parsed;
  if (u.scheme() != "http") {
    return Status::invalid_argument("unsupported URL scheme '" + std::string(u.scheme()) + "' (only http)");
  }
  UrlTarget t;
  t.host = std::string(u.host_address());
  if (t.host.empty()) return Status::invalid_argument("URL without host: '" + std::string(url) + "'");
  t.port = u.has_port() ? std::string(u.port()) : "80";
  if (t.port.empty() || t.port.size() > 5 || std::stoul(t.port) > 65535)  // digits only (RFC 3986)
    return Status::invalid_argument("bad port in URL '" + std::string(url) + "'");
  t.host_field = std::string(u.encoded_host_and_port());
  t.path = std::string(u.encoded_target());
  if (t.path.empty() || t.path[0] != '/') t.path = "/" + t.path;
  return t;
}

Status format_request_head(std::string& out, std::string_view method, const UrlTarget& target,
                           const Headers& headers, std::size_t body_size) {
  if (method.empty() || method.find_first_of(" \t\r\n") != std::string_view::npos)
    return Status::invalid_argument("malformed HTTP method '" + std::string(method) + "'");
  out.clear();
  out.reserve(256);
  out.append(method);
  out += ' ';
  append_field_text(out, target.path);
  out += " HTTP/1.1\r\n";
  if (!headers.has("Host")) {
    out += "Host: ";
    out += target.host_field;
    out += "\r\n";
  }
  if (!headers.has("User-Agent")) out += "User-Agent: scn\r\n";
  for (const auto& [k, v] : headers.fields()) {
    if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding")) continue;
    append_field_text(out, k);
    out += ": ";
    append_field_text(out, v);
    out += "\r\n";
  }
  if (body_size > 0 || iequals(method, "POST") || iequals(method, "PUT")) {
    out += "Content-Length: ";
    out += std::to_string(body_size);
    out += "\r\n";
  }
  out += "\r\n";
  return Status::ok();
}

bool idle_socket_unusable(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return true;  // EOF or unexpected data
  return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

}  // namespace scn::http::detail
