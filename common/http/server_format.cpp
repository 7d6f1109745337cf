// A complete answer (server_internal.h): its head formatted by hand
// (cheaper than Beast's serializer for the common case of a whole body),
// its first send, and the answer of an inline route's handler.
#include <boost/beast/http/status.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <exception>

#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "common/http/client_request.h"
#include "common/http/server_internal.h"
#include "common/log.h"

namespace scn::http::detail {

namespace bhttp = boost::beast::http;

// Whether an answer with `status` carries a body (and Content-Length).
bool answer_has_body(int status) { return !(status / 100 == 1 || status == 204 || status == 304); }


// The head of a complete answer: status line, Server, the handler's fields
// (not Content-Length, Transfer-Encoding or Connection, which are the
// server's), Connection as keep-alive asks, Content-Length.
void format_answer_head(std::string& out, int status, int version, bool keep_alive, std::string_view server_name,
                 const Headers& headers, std::size_t body_size) {
  out.clear();
  out += version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, status);
  out.append(num, r.ptr);
  out += ' ';
  out += bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out += "\r\nServer: ";
  append_field_text(out, server_name);
  out += "\r\n";
  for (const auto& [k, v] : headers.fields()) {
    if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding") || iequals(k, "Connection")) continue;
    append_field_text(out, k);
    out += ": ";
    append_field_text(out, v);
    out += "\r\n";
  }
  if (version >= 11 && !keep_alive) out += "Connection: close\r\n";
  if (version < 11 && keep_alive) out += "Connection: keep-alive\r\n";
  if (answer_has_body(status)) {
    out += "Content-Length: ";
    r = std::to_chars(num, num + sizeof num, body_size);
    out.append(num, r.ptr);
    out += "\r\n";
  }
  out += "\r\n";
}

std::size_t send_now(int fd, const std::array<net::const_buffer, 2>& parts, boost::system::error_code& ec) {
  iovec iov[2] = {{const_cast<void*>(parts[0].data()), parts[0].size()},
                  {const_cast<void*>(parts[1].data()), parts[1].size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = parts[1].size() > 0 ? 2 : 1;
  const ssize_t r = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (r >= 0) return static_cast<std::size_t>(r);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    ec = boost::system::error_code(errno, boost::system::system_category());
  return 0;
}

Op run_inline_handler(const Handler& handler, const Request& request) {
  Response response(std::make_shared<NoStreamChannel>());
  std::string failure;
  try {
    handler(request, response);
    if (response.streaming()) failure = "tried to stream";
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw";
  }
  if (!failure.empty()) {
    common::log_error("http: inline handler for ", request.method, " ", request.path, " ", failure);
    error_response(response, Status::internal("the handler failed"));
  }
  return Op{Op::kComplete, response.status(), std::move(response.headers()), response.take_body()};
}

}  // namespace scn::http::detail
