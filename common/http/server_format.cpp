// The head of a complete answer, formatted by hand (server_internal.h):
// cheaper than Beast's serializer for the common case of a whole body.
#include <boost/beast/http/status.hpp>

#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "common/http/server_internal.h"

namespace scn::http::detail {

namespace bhttp = boost::beast::http;

// Whether an answer with `status` carries a body (and Content-Length).
bool answer_has_body(int status) { return !(status / 100 == 1 || status == 204 || status == 304); }

namespace {

// A header field's text without CR or LF (no field can end early).
void append_field_text(std::string& out, std::string_view text) {
  if (std::memchr(text.data(), '\r', text.size()) == nullptr &&
      std::memchr(text.data(), '\n', text.size()) == nullptr) {
    out.append(text);
    return;
  }
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
}

}  // namespace

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

}  // namespace scn::http::detail
