// TLS contexts for scn's servers and clients (Boost.Asio ssl over OpenSSL 3).
// Include only where TLS is used: this header pulls in Asio's ssl context.
//
// Contract:
//  - make_server_context() loads a certificate chain and its key (checked to
//    match). With `client_ca_file` set the server verifies client
//    certificates against that CA (mTLS); a client without one fails the
//    handshake unless `client_cert_optional` (config.h). TLS 1.2 is the
//    minimum.
//  - make_client_context() trusts `ca_file` (or the system store when
//    empty) and verifies the peer; an optional client certificate and key
//    are presented to servers that ask. The host name is checked per
//    connection: call prepare_client_ssl() on each SSL* before the handshake.
//  - Loading failures are Status messages that name the flag's file and the
//    reason ("cannot load TLS certificate /x.crt: no such file").
//  - handshake_error() turns a failed handshake into a clear message (e.g.
//    "TLS handshake with 127.0.0.1:8443 failed: certificate verify failed:
//    unable to get local issuer certificate — is --ca the CA that signed the
//    server's certificate?").
//  - peer_node_id() reads the node id bound to the peer's certificate (SAN
//    URI scn:node:<uuid>); check_node_binding() compares it with the node a
//    secret authenticated: a mismatch or a missing id is permission_denied
//    (answered 403).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "common/status.h"
#include "common/tls/config.h"

namespace scn::tls {

using SslContextPtr = std::shared_ptr<boost::asio::ssl::context>;

Result<SslContextPtr> make_server_context(const ServerTlsConfig& config);
Result<SslContextPtr> make_client_context(const ClientTlsConfig& config);

// Sets SNI (for names) and the expected host name or IP address on `ssl`
// (an SSL* from stream.native_handle()), checked during the handshake.
Status prepare_client_ssl(SSL* ssl, std::string_view host);

// A clear message for a failed handshake with `peer` ("host:port").
std::string handshake_error(const boost::system::error_code& ec, SSL* ssl, std::string_view peer);

// The node id in the peer certificate of an established connection.
std::optional<std::string> peer_node_id(SSL* ssl);

// OK when `cert_node_id` equals `node_id`; permission_denied otherwise.
Status check_node_binding(const std::optional<std::string>& cert_node_id, std::string_view node_id);

}  // namespace scn::tls
