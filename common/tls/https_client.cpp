#include "common/tls/https_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <mutex>

#include "common/tls/context.h"

namespace scn::tls {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

struct Target {
  std::string host, host_field, port, path;
};

Result<Target> parse_https_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Status::invalid_argument("malformed URL '" + std::string(url) + "'");
  if (parsed->scheme() != "https")
    return Status::invalid_argument("not an https URL: '" + std::string(url) + "'");
  Target t;
  t.host = std::string(parsed->host_address());
  if (t.host.empty()) return Status::invalid_argument("URL without host: '" + std::string(url) + "'");
  t.port = parsed->has_port() ? std::string(parsed->port()) : "443";
  t.host_field = std::string(parsed->encoded_host_and_port());
  t.path = std::string(parsed->encoded_target());
  if (t.path.empty() || t.path[0] != '/') t.path = "/" + t.path;
  return t;
}

// Runs one async step to completion.
template <typename Initiate>
error_code run_step(net::io_context& ioc, Initiate&& initiate) {
  error_code result = net::error::would_block;
  initiate([&](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

std::mutex g_default_mu;
ClientTlsConfig g_default;

std::string step_message(const error_code& ec) {
  return ec == beast::error::timeout ? std::string("timed out") : ec.message();
}

}  // namespace

bool is_https_url(std::string_view url) {
  return url.size() >= 8 && http::iequals(url.substr(0, 8), "https://");
}

void set_default_client_tls(const ClientTlsConfig& tls) {
  std::lock_guard lock(g_default_mu);
  g_default = tls;
}

ClientTlsConfig default_client_tls() {
  std::lock_guard lock(g_default_mu);
  return g_default;
}

Result<http::ClientResponse> https_request(const ClientTlsConfig& tls, std::string_view method,
                                           std::string_view url, std::string_view body,
                                           const http::Headers& headers,
                                           std::chrono::milliseconds timeout) {
  return https_request_stream(tls, method, url, body, headers, nullptr, nullptr, timeout);
}

Result<http::ClientResponse> https_request_stream(
    const ClientTlsConfig& tls, std::string_view method, std::string_view url,
    std::string_view body, const http::Headers& headers, const http::HeadCallback* on_head,
    const http::DataCallback* on_data, std::chrono::milliseconds timeout) {
  SCN_ASSIGN_OR_RETURN(Target t, parse_https_url(url));
  SCN_ASSIGN_OR_RETURN(SslContextPtr ctx, make_client_context(tls));
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    error_code ec = run_step(ioc, [&](auto h) {
      resolver.async_resolve(t.host, t.port, [&, h](error_code e, tcp::resolver::results_type r) {
        endpoints = std::move(r);
        h(e);
      });
    });
    if (ec) return Status::unavailable("cannot resolve " + t.host_field + ": " + ec.message());
    net::ssl::stream<beast::tcp_stream> stream(ioc, *ctx);
    auto& tcp_layer = beast::get_lowest_layer(stream);
    tcp_layer.expires_after(timeout);
    ec = run_step(ioc, [&](auto h) {
      tcp_layer.async_connect(endpoints, [h](error_code e, const tcp::endpoint&) { h(e); });
    });
    if (ec) return Status::unavailable("cannot connect to " + t.host_field + ": " + step_message(ec));
    SCN_RETURN_IF_ERROR(prepare_client_ssl(stream.native_handle(), t.host));
    tcp_layer.expires_after(timeout);
    ec = run_step(ioc, [&](auto h) { stream.async_handshake(net::ssl::stream_base::client, h); });
    if (ec) return Status::unavailable(handshake_error(ec, stream.native_handle(), t.host_field));

    bhttp::request<bhttp::string_body> req;
    bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) req.method_string(method);
    else req.method(verb);
    req.target(t.path);
    req.version(11);
    req.set(bhttp::field::host, t.host_field);
    req.set(bhttp::field::user_agent, "scn");
    req.set(bhttp::field::connection, "close");
    for (const auto& [k, v] : headers.fields()) req.set(k, v);
    req.body() = std::string(body);
    if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) req.prepare_payload();
    tcp_layer.expires_after(timeout);
    ec = run_step(ioc, [&](auto h) { bhttp::async_write(stream, req, h); });
    if (ec) return Status::io_error("cannot send to " + t.host_field + ": " + step_message(ec));

    beast::flat_buffer buffer;
    http::ClientResponse out;
    auto fail_read = [&](const error_code& e) {
      // A server refusing our (missing) client certificate says so here (TLS
      // 1.3 ends the handshake on the client before the server checks it).
      bool tls_error = e.category() == net::error::get_ssl_category() ||
                       e == net::ssl::error::stream_truncated;
      std::string m = tls_error ? handshake_error(e, stream.native_handle(), t.host_field)
                                : step_message(e);
      return Status::io_error("cannot read the answer from " + t.host_field + ": " + m);
    };
    auto take_head = [&](const auto& msg) {
      out.status = static_cast<int>(msg.result_int());
      for (const auto& f : msg) out.headers.add(f.name_string(), f.value());
    };
    if (on_head == nullptr && on_data == nullptr) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(boost::none);
      tcp_layer.expires_after(timeout);
      ec = run_step(ioc, [&](auto h) { bhttp::async_read_header(stream, buffer, parser, h); });
      while (!ec && !parser.is_done()) {
        tcp_layer.expires_after(timeout);
        ec = run_step(ioc, [&](auto h) { bhttp::async_read_some(stream, buffer, parser, h); });
      }
      if (ec) return fail_read(ec);
      take_head(parser.get());
      out.body = std::move(parser.get().body());
    } else {
      bhttp::response_parser<bhttp::buffer_body> parser;
      parser.body_limit(boost::none);
      tcp_layer.expires_after(timeout);
      ec = run_step(ioc, [&](auto h) { bhttp::async_read_header(stream, buffer, parser, h); });
      if (ec) return fail_read(ec);
      take_head(parser.get());
      if (on_head != nullptr && !(*on_head)(out.status, out.headers)) return out;
      std::array<char, 16384> chunk;
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        tcp_layer.expires_after(timeout);
        ec = run_step(ioc, [&](auto h) { bhttp::async_read_some(stream, buffer, parser, h); });
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) return fail_read(ec);
        std::size_t n = chunk.size() - parser.get().body().size;
        if (n == 0) continue;
        if (on_data == nullptr) out.body.append(chunk.data(), n);
        else if (!(*on_data)(std::string_view(chunk.data(), n))) return out;  // stopped early
      }
    }
    tcp_layer.expires_after(std::chrono::milliseconds(500));
    run_step(ioc, [&](auto h) { stream.async_shutdown(h); });
    return out;
  } catch (const std::exception& e) {
    return Status::io_error("HTTPS request to " + t.host_field + " failed: " + e.what());
  }
}

}  // namespace scn::tls
