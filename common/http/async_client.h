// An async HTTP/1.1 client with pooled keep-alive connections (http:// and
// https://), for coroutines running on an Asio executor - e.g. an async
// route of the server (async_route.h) proxying to upstreams.
//
// Contract:
//  - Calls are coroutines; callbacks and socket completions resume on the
//    calling coroutine's executor (for an async route: its connection's
//    strand), so a request, its callbacks and AsyncCancel::cancel() are
//    never run concurrently. One pool may be used by many executors and
//    threads at once (thread-safe).
//  - URLs: "http://host[:port]/path?query" or "https://...". https uses the
//    process-wide configuration of common/tls/https_client.h
//    (default_client_tls(): CA, client certificate), checks the server's
//    name, and is pooled like http.
//  - `timeout` bounds every single step (connect, handshake, each write and
//    each read), not the whole exchange.
//  - A request takes the newest idle connection to its endpoint (scheme,
//    host, port) or opens one, and gives it back when the answer was read
//    to its end and neither side asked to close. A connection the server
//    closed meanwhile (the request fails before any answer byte) is
//    replaced by a fresh one and the request sent once more. At most
//    max_idle_per_endpoint idle connections are kept per endpoint; idle
//    ones older than idle_timeout are closed when next looked at.
//  - Errors are Status: kInvalidArgument (bad URL), kUnavailable (resolve,
//    connect or TLS handshake failed), kIoError (timeouts, resets, malformed
//    answers), kTooLarge (a complete answer over max_answer_bytes), kCancelled (cancelled before the answer's
//    head). Any HTTP status is a success.
//  - request_stream(): `on_head` gets status and headers before any body
//    byte, `on_data` the body as it arrives (chunk framing removed); either
//    returning false stops (a success; the connection is closed so the
//    server sees the client go). Null callbacks are skipped.
//  - AsyncCancel: cancel() (on the request's executor, e.g. from
//    on_client_gone()) closes the connection of the exchange in progress at
//    once (the server sees its client go): the request returns kCancelled
//    before the head, a success after it. A cancel before the request
//    starts makes it return kCancelled at once.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "common/http/client.h"
#include "common/status.h"

namespace scn::http {

class AsyncCancel {
 public:
  void cancel();
  bool cancelled() const { return cancelled_; }

 private:
  friend class AsyncConnectionPool;
  bool cancelled_ = false;
  std::function<void()> close_;  // closes the exchange in progress
};

using AsyncHeadCallback = std::function<boost::asio::awaitable<bool>(int status, const Headers& headers)>;
using AsyncDataCallback = std::function<boost::asio::awaitable<bool>(std::string_view data)>;

struct AsyncPoolOptions {
  std::size_t max_idle_per_endpoint = 256;
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t max_answer_bytes = 64u << 20;  // complete answers only
};

class AsyncConnectionPool {
 public:
  explicit AsyncConnectionPool(AsyncPoolOptions options = {});
  ~AsyncConnectionPool();
  AsyncConnectionPool(const AsyncConnectionPool&) = delete;
  AsyncConnectionPool& operator=(const AsyncConnectionPool&) = delete;

  // The whole answer in ClientResponse::body.
  boost::asio::awaitable<Result<ClientResponse>> request(std::string_view method, std::string_view url,
                                                         std::string_view body, const Headers& headers,
                                                         std::chrono::milliseconds timeout = kDefaultClientTimeout,
                                                         AsyncCancel* cancel = nullptr);
  // The body goes to `on_data` (the result's body stays empty).
  boost::asio::awaitable<Result<ClientResponse>> request_stream(
      std::string_view method, std::string_view url, std::string_view body, const Headers& headers,
      const AsyncHeadCallback& on_head, const AsyncDataCallback& on_data,
      std::chrono::milliseconds timeout = kDefaultClientTimeout, AsyncCancel* cancel = nullptr);

  std::size_t idle_count() const;
  long long connections_opened() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::http
