// A small blocking HTTP/1.1 client (Boost.Beast underneath) for tests, tools
// and service-to-service calls.
//
// Contract:
//  - URLs are parsed with Boost.URL: "http://host[:port]/path?query".
//    "https://" URLs go over TLS with the process-wide configuration of
//    common/tls/https_client.h (set_default_client_tls: --ca, client cert),
//    one connection per request for now (Client does not take https).
//  - `timeout` bounds every single step (resolve, connect, each write, each
//    read), not the whole exchange, so a long stream that keeps sending is
//    never cut while a stalled peer is.
//  - Expected failures (bad URL, connection refused, timeout, malformed
//    answer) are returned as Status (kInvalidArgument for a bad URL,
//    kUnavailable for connect errors, kIoError otherwise). Any HTTP status,
//    also 4xx/5xx, is a successful exchange.
//  - The free functions open one connection per call. Client keeps one
//    connection open across calls (keep-alive) and reconnects when the
//    server closed it. ConnectionPool keeps idle keep-alive connections per
//    endpoint (host:port) for any number of threads (see there).
//  - The streaming variants hand the body to `on_data` as it arrives (chunk
//    framing already removed; pieces are not aligned to SSE events, see
//    SseDecoder). `on_data` returning false stops early and closes the
//    connection; that is a success.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/server.h"  // Headers
#include "common/status.h"

namespace scn::http {

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;  // empty for streaming requests
};

// Receives body bytes as they arrive; return false to stop reading.
using DataCallback = std::function<bool(std::string_view data)>;

inline constexpr std::chrono::milliseconds kDefaultClientTimeout{30'000};

// One request on a fresh connection.
Result<ClientResponse> request(std::string_view method, std::string_view url,
                               std::string_view body = {}, const Headers& headers = {},
                               std::chrono::milliseconds timeout = kDefaultClientTimeout);

// One request whose body is delivered to `on_data` (status and headers are in
// the result, its body stays empty).
Result<ClientResponse> request_stream(std::string_view method, std::string_view url,
                                      std::string_view body, const Headers& headers,
                                      const DataCallback& on_data,
                                      std::chrono::milliseconds timeout = kDefaultClientTimeout);

// Receives the answer's status and headers once they arrived, before any body
// byte; return false to stop there (a success: the body is not read).
using HeadCallback = std::function<bool(int status, const Headers& headers)>;

// request_stream() that also reports the status and headers as soon as they
// arrived (e.g. to start passing a stream through before its end).
Result<ClientResponse> request_stream(std::string_view method, std::string_view url,
                                      std::string_view body, const Headers& headers,
                                      const HeadCallback& on_head, const DataCallback& on_data,
                                      std::chrono::milliseconds timeout = kDefaultClientTimeout);

// Polled while waiting for the peer; true: give up (the connection is closed).
using CancelCheck = std::function<bool()>;

// A keep-alive connection to one server, e.g. Client("http://127.0.0.1:8080").
// Not thread-safe: one request at a time.
class Client {
 public:
  explicit Client(std::string base_url, std::chrono::milliseconds timeout = kDefaultClientTimeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // `path_and_query` is appended to the base URL, e.g. "/v1/models".
  Result<ClientResponse> request(std::string_view method, std::string_view path_and_query,
                                 std::string_view body = {}, const Headers& headers = {});
  Result<ClientResponse> request_stream(std::string_view method, std::string_view path_and_query,
                                        std::string_view body, const Headers& headers,
                                        const DataCallback& on_data);
  // Closes the connection (the next request opens a new one).
  void close();
  // How many TCP connections this client has opened so far.
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ConnectionPoolOptions {
  // Idle connections kept per endpoint (host:port); more are closed.
  std::size_t max_idle_per_endpoint = 64;
  // An idle connection older than this is closed instead of reused.
  std::chrono::milliseconds idle_timeout{30'000};
};

// Keep-alive connections shared by many threads, e.g. a proxy forwarding to
// a few upstreams. Thread-safe.
//  - A request takes the newest idle connection to its endpoint (or opens
//    one), and gives it back when the answer was read completely and the
//    server did not ask to close. A connection on which the caller stopped
//    early (on_head/on_data returned false) or that failed is closed, so
//    the server sees the client go away (e.g. cancels a generation).
//  - A pooled connection the server closed meanwhile (checked before use
//    when it was idle 50 ms or more; or the request fails before any answer
//    byte arrived) is replaced by a fresh connection and the request sent
//    once more.
//  - At most max_idle_per_endpoint idle connections are kept per endpoint;
//    idle ones older than idle_timeout are closed when next looked at.
class ConnectionPool {
 public:
  explicit ConnectionPool(ConnectionPoolOptions options = {});
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // As the free functions of the same names, on a pooled connection.
  Result<ClientResponse> request(std::string_view method, std::string_view url,
                                 std::string_view body = {}, const Headers& headers = {},
                                 std::chrono::milliseconds timeout = kDefaultClientTimeout);
  Result<ClientResponse> request_stream(std::string_view method, std::string_view url,
                                        std::string_view body, const Headers& headers,
                                        const HeadCallback& on_head, const DataCallback& on_data,
                                        std::chrono::milliseconds timeout = kDefaultClientTimeout);
  // The same, also giving up as soon as `cancelled()` is true (polled at
  // least every 20 ms while waiting to send or for the answer, e.g. a proxy
  // whose own client left): the connection is closed (so the server sees the
  // client go away) and the result is kCancelled before the answer's head,
  // a success after it (as when on_data stops). Not polled for https://.
  Result<ClientResponse> request_stream(std::string_view method, std::string_view url,
                                        std::string_view body, const Headers& headers,
                                        const HeadCallback& on_head, const DataCallback& on_data,
                                        std::chrono::milliseconds timeout, const CancelCheck& cancelled);

  // Idle connections now, over all endpoints.
  std::size_t idle_count() const;
  // TCP connections this pool has opened so far.
  long long connections_opened() const;
  // Closes every idle connection.
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits a text/event-stream into events. feed() takes bytes as they arrive
// and calls `on_event` with the joined "data:" lines of each complete event
// (events without data lines are skipped; comments ignored).
class SseDecoder {
 public:
  void feed(std::string_view bytes, const std::function<void(std::string_view data)>& on_event);

 private:
  std::string pending_;  // bytes after the last complete line
  std::string data_;     // data lines of the current event
  bool has_data_ = false;
};

}  // namespace scn::http
