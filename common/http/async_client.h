// Asynchronous HTTP/1.1 requests for code on an http::Server's IO threads
// (an async route's handler, Server::route_async, or a completion of this
// client): complete answers over keep-alive connections pooled per
// endpoint, with no thread waiting for the peer.
//
// Contract:
//  - request() must be called on an IO thread of a running http::Server;
//    elsewhere it returns kInternal. Only http:// URLs
//    (kInvalidArgument for others and for malformed ones: use the blocking
//    client, client.h, for https://). Errors returned by request() never
//    call `done`.
//  - Otherwise `done` is called exactly once, later (never inside
//    request()), on an IO thread, with the answer - any HTTP status is a
//    success; the body is read whole, up to max_body_bytes - or an error:
//    kUnavailable (cannot connect), kIoError (sending or reading failed or
//    timed out, a malformed or too large answer), kCancelled (cancel()).
//    `answer_started` tells whether any byte of the answer had arrived: a
//    failure without one left nothing half-done at the server's side that a
//    caller could not try elsewhere.
//  - `timeout` bounds each step: connecting, sending, and reading the answer
//    (head and body together).
//  - A request takes the newest idle connection to its endpoint (host:port)
//    or opens one, and gives it back when the answer was read whole and the
//    server did not ask to close. A pooled connection the server closed
//    meanwhile (checked before use when it was idle 50 ms or more; or the
//    request fails before any answer byte arrived) is replaced by a fresh
//    one and the request sent once more.
//  - AsyncCall::cancel() (any thread, any number of times) closes the
//    connection of a request not finished yet, so the server sees its client
//    go away; `done` then gets kCancelled.
//  - Thread-safe. Requests in flight keep what they use alive, so the
//    AsyncClient may be destroyed before they finish. Connections belong to
//    the io_context of the IO thread that opened them: idle ones are kept
//    with it (a service of the io_context) and closed when it shuts down,
//    so a client may also outlive the servers it was used on.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/client.h"
#include "common/http/server.h"
#include "common/status.h"

namespace scn::http {

struct AsyncResult {
  Result<ClientResponse> response = Status::internal("no answer yet");
  bool answer_started = false;
};

struct AsyncClientOptions {
  std::size_t max_idle_per_endpoint = 256;
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t max_body_bytes = 64u << 20;
};

// A request in flight (a default-constructed one is none).
class AsyncCall {
 public:
  struct State;
  AsyncCall() = default;
  explicit AsyncCall(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void cancel() const;

 private:
  std::shared_ptr<State> state_;
};

class AsyncClient {
 public:
  using Done = std::function<void(AsyncResult)>;

  explicit AsyncClient(AsyncClientOptions options = {});
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  Result<AsyncCall> request(std::string_view method, std::string_view url, std::string body,
                            Headers headers, std::chrono::milliseconds timeout, Done done);

  // Idle connections now, over all endpoints.
  std::size_t idle_count() const;
  // TCP connections opened so far.
  long long connections_opened() const;

  struct Pool;

 private:
  std::shared_ptr<Pool> pool_;
};

}  // namespace scn::http
