// One HTTPS request on a fresh TLS connection (Beast over an Asio ssl
// stream), for service-to-service calls that need TLS until
// common/http/client.h takes https:// URLs itself.
//
// Contract:
//  - `url` is "https://host[:port]/path?query" (port 443 by default).
//  - The server's certificate must chain to the CA of `tls` (ClientTlsConfig
//    ::ca_file; the system store when empty) and name `host` (DNS name or IP
//    SAN). A client certificate (tls.cert_file/key_file) is presented when
//    the server asks (mTLS).
//  - `timeout` bounds every step (resolve, connect, handshake, write, read).
//  - The streaming variant hands the body to `on_data` as it arrives (chunk
//    framing removed), after `on_head` got the status and headers; either
//    returning false stops early (a success). Null callbacks are skipped.
//  - common/http/client.h sends https:// URLs here with the process-wide
//    default configuration (set_default_client_tls(), e.g. from --ca), one
//    connection per request (no pooling yet).
//  - Failures are Status: kInvalidArgument for a bad URL or TLS files,
//    kUnavailable for connect and handshake errors (with the clear message of
//    tls::handshake_error()), kIoError otherwise. Any HTTP status is a
//    successful exchange.
#pragma once

#include <chrono>
#include <string_view>

#include "common/http/client.h"
#include "common/status.h"
#include "common/tls/context.h"

namespace scn::tls {

Result<http::ClientResponse> https_request(const ClientTlsConfig& tls, std::string_view method,
                                           std::string_view url, std::string_view body = {},
                                           const http::Headers& headers = {},
                                           std::chrono::milliseconds timeout = http::kDefaultClientTimeout);

Result<http::ClientResponse> https_request_stream(
    const ClientTlsConfig& tls, std::string_view method, std::string_view url,
    std::string_view body, const http::Headers& headers, const http::HeadCallback* on_head,
    const http::DataCallback* on_data, std::chrono::milliseconds timeout = http::kDefaultClientTimeout);

// True for "https://..." (case-insensitive scheme).
bool is_https_url(std::string_view url);

// The configuration common/http/client.h uses for https:// URLs (default:
// the system CA store, no client certificate). Thread-safe.
void set_default_client_tls(const ClientTlsConfig& tls);
ClientTlsConfig default_client_tls();

}  // namespace scn::tls
