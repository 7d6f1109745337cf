// Internal to common/http (server_connection.cpp): the start of a connection
// on a TLS port. The first bytes decide: a TLS handshake record (0x16)
// starts the handshake with them (within handshake_timeout); anything else
// (plain HTTP) is answered 400 in plain text and the connection is to be
// closed (false). After a handshake `peer` tells whether the client showed a
// verified certificate and which node it is bound to.
#pragma once

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <string>
#include <type_traits>

#include "common/http/server_internal.h"
#include "common/log.h"
#include "common/tls/context.h"

namespace scn::http::detail {

template <class Stream>
net::awaitable<bool> tls_handshake(Stream& stream, boost::beast::flat_buffer& buffer, const ServerOptions& o,
                                   const std::string& remote, TlsPeer& peer) {
  auto& lowest = boost::beast::get_lowest_layer(stream);
  lowest.expires_after(o.handshake_timeout);
  auto [ec, n] = co_await lowest.async_read_some(buffer.prepare(4096), kAwait);
  if (ec) co_return false;
  buffer.commit(n);
  const auto first = static_cast<const unsigned char*>(buffer.data().data())[0];
  if (first != 0x16) {
    std::string body = error_body("invalid_request_error", "this port speaks TLS: use https://");
    std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                         "Connection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
    lowest.expires_after(o.write_timeout);
    co_await net::async_write(lowest, net::buffer(answer), kAwait);
    boost::system::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return false;
  }
  if constexpr (!std::is_same_v<Stream, boost::beast::tcp_stream>) {
    lowest.expires_after(o.handshake_timeout);
    auto [hec, used] = co_await stream.async_handshake(net::ssl::stream_base::server, buffer.data(), kAwait);
    buffer.consume(buffer.size());
    lowest.expires_never();
    if (hec) {
      common::log_debug("http: TLS handshake with ", remote, " failed: ", hec.message());
      co_return false;
    }
    SSL* ssl = stream.native_handle();
    peer.client_cert = SSL_get0_peer_certificate(ssl) != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
    if (peer.client_cert) peer.node_id = tls::peer_node_id(ssl);
  }
  co_return true;
}

}  // namespace scn::http::detail
