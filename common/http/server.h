// An HTTP/1.1 server (Boost.Beast + Asio, C++20 coroutines) that runs
// blocking handlers on a worker pool.
//
// Contract:
//  - Routes map (method, exact path) or (method, path prefix) to a Handler
//    `void(const Request&, Response&)`. An exact route wins over a prefix
//    route; among prefix routes the longest prefix wins. A path that matches
//    no route is answered 404, a path that matches only under other methods
//    405 (with an Allow header). Routes are added before start().
//  - Handlers run on a pool of `worker_threads` threads, never on the IO
//    threads, so they may block for seconds (token generation). A handler
//    that throws is answered 500 (or, when already streaming, its connection
//    is closed). Routes added with route_inline() are the exception: their
//    handlers run on the IO thread that read the request, without the hand-
//    off to the pool, so they must answer at once and completely (no
//    blocking; start_stream() refuses and the request is answered 500).
//    Routes added with route_async() run on the IO thread too and answer
//    later through an AsyncReply (see there).
//  - A handler answers either completely (set_status/set_header/set_body; the
//    answer is sent when the handler returns) or by streaming: start_stream()
//    sends the status and headers with chunked transfer encoding, each write()
//    sends one chunk and blocks until it is handed to the socket, end() (or
//    returning from the handler) sends the last chunk.
//  - While a handler runs, the connection is watched (from its first
//    streamed write, or once it has run for 2 ms: most answers come sooner):
//    when the client closes it or resets it, client_gone() becomes true and
//    write() returns false.
//  - Every socket operation has a timeout (ServerOptions). A request whose
//    header is not complete within header_timeout, or whose body is not
//    complete within body_timeout, is dropped (connection closed). A body
//    over max_body_bytes is answered 413, a header over max_header_bytes 431,
//    malformed HTTP 400; these answers close the connection. Every error
//    answer has the JSON body {"error": {"type": ..., "message": ...}}.
//  - Keep-alive: HTTP/1.1 connections stay open between requests for up to
//    idle_timeout unless the client or the handler asks "Connection: close".
//  - stop() is graceful and may be called from any thread (also from inside a
//    handler): the listener closes, idle connections close, requests in
//    flight finish (their connections then close) until shutdown_timeout has
//    passed, after which every connection is closed (handlers see
//    client_gone()). wait() returns once the IO threads and the worker pool
//    have finished (it waits for running handlers to return).
//  - TLS (ServerOptions::tls, common/tls/config.h): with a certificate the
//    port speaks only TLS. The handshake has handshake_timeout; a failed
//    handshake closes the connection; plain HTTP sent to a TLS port is
//    answered 400 in plain text and closed. With a client CA, client
//    certificates are verified (required, or optional when
//    tls.client_cert_optional); Request::tls_client_cert tells whether the
//    client presented one and Request::tls_peer_node_id carries its node
//    binding (SAN URI scn:node:<uuid>, common/tls/pki.h). Streaming,
//    keep-alive, timeouts and stop() work the same over TLS.
//  - At most max_connections_per_address connections per client IP address
//    are open at once; more are closed right after accept (counted by
//    rejected_connections()). With the header timeout this bounds what a
//    slow client (slowloris) can hold.
//  - No exception crosses this header: start() reports failures as Status
//    (also unreadable TLS files).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/tls/config.h"

namespace scn::http {

// HTTP header fields with case-insensitive names, in insertion order.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> fields);

  // Replaces every field called `name` with one field.
  void set(std::string_view name, std::string_view value);
  // Appends a field (for repeated fields such as Set-Cookie).
  void add(std::string_view name, std::string_view value);
  void remove(std::string_view name);
  // The value of the first field called `name`.
  std::optional<std::string_view> get(std::string_view name) const;
  std::string get_or(std::string_view name, std::string_view fallback) const;
  bool has(std::string_view name) const { return get(name).has_value(); }

  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Case-insensitive ASCII comparison (header names, media types).
bool iequals(std::string_view a, std::string_view b);

// One parsed request. The server fills it; tests may build one by hand.
struct Request {
  std::string method;   // as sent, e.g. "GET", "POST"
  std::string target;   // raw request target, e.g. "/v1/models?x=1"
  std::string path;     // percent-decoded path, e.g. "/v1/models"
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string body;
  std::string remote_address;  // "127.0.0.1:51234" ("" when not from a socket)
  int version = 11;            // 10 for HTTP/1.0, 11 for HTTP/1.1
  bool tls = false;            // the request came over TLS
  bool tls_client_cert = false;  // the client presented a (verified) certificate
  // The node the client certificate is bound to (SAN URI scn:node:<uuid>).
  std::optional<std::string> tls_peer_node_id;

  // The first query parameter called `key`.
  std::optional<std::string_view> query_param(std::string_view key) const;
  // The first header called `name` ("" when absent).
  std::string_view header(std::string_view name) const;
};

namespace detail {
class ResponseChannel;  // connection side of a Response (server.cpp)
}

// The handler's answer. A default-constructed Response is detached from any
// connection: streamed chunks are appended to body() and recorded in
// chunks(), which lets handlers be tested without sockets.
class Response {
 public:
  Response();
  explicit Response(std::shared_ptr<detail::ResponseChannel> channel);
  ~Response();
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  // ---- complete answer (sent when the handler returns) ----
  void set_status(int status) { status_ = status; }
  int status() const { return status_; }
  Headers& headers() { return headers_; }
  const Headers& headers() const { return headers_; }
  void set_header(std::string_view name, std::string_view value) { headers_.set(name, value); }
  void set_body(std::string body) { body_ = std::move(body); }
  // Sets status, body and Content-Type in one call.
  void set_content(int status, std::string body, std::string_view content_type);
  // set_content(status, body, "application/json").
  void set_json(int status, std::string body);
  const std::string& body() const { return body_; }
  // Moves the body out (the server, after the handler returned).
  std::string take_body() { return std::move(body_); }

  // ---- streaming (chunked transfer encoding) ----
  // Sends the status line and headers. False when the client is gone, when
  // already streaming, or on a socket error. Headers set through headers()
  // before the call are sent too (those in `headers` win).
  bool start_stream(int status, const Headers& headers = {});
  // Sends one chunk (an empty chunk is skipped); blocks until it was written
  // to the socket. False when not streaming, after end(), when the client is
  // gone or the write failed or timed out.
  bool write(std::string_view chunk);
  // Sends the terminating chunk; later writes return false. Idempotent.
  void end();
  bool streaming() const { return streaming_; }
  bool ended() const { return ended_; }
  // Detached responses: every chunk written, in order.
  const std::vector<std::string>& chunks() const { return chunks_; }

  // ---- the client ----
  // True once the client closed or reset the connection, a write failed, or
  // the server's shutdown deadline passed. Cheap; safe to poll often.
  bool client_gone() const { return gone_->load(std::memory_order_relaxed); }
  // The flag behind client_gone(), for code that outlives the handler's view
  // of the Response (e.g. a generation loop checking for cancellation).
  std::shared_ptr<const std::atomic<bool>> gone_flag() const { return gone_; }
  // Marks the client as gone (tests; or a handler giving up on a client).
  void mark_client_gone() { gone_->store(true, std::memory_order_relaxed); }

  // Used by the server after the handler returned; not for handlers.
  detail::ResponseChannel* channel() const { return channel_.get(); }

 private:
  int status_ = 200;
  Headers headers_;
  std::string body_;
  bool streaming_ = false;
  bool ended_ = false;
  std::vector<std::string> chunks_;
  std::shared_ptr<std::atomic<bool>> gone_;
  std::shared_ptr<detail::ResponseChannel> channel_;
};

// The JSON error body {"error": {"type": type, "message": message}}.
std::string error_body(std::string_view type, std::string_view message);
// error_body(status.error_type(), status.message()).
std::string error_body(const Status& status);
// Answers `status` completely: HTTP status status.http_status(), JSON error
// body, Content-Type application/json. Only before start_stream().
void error_response(Response& response, const Status& status);
// Same with an explicit HTTP status and error type (e.g. 405, 431).
void error_response(Response& response, int http_status, std::string_view type,
                    std::string_view message);

using Handler = std::function<void(const Request&, Response&)>;

namespace detail {
class AsyncAnswer;  // connection side of an AsyncReply (server_async.cpp)
}

// The answer to one request of an asynchronous route (Server::route_async).
// Copies share the one answer; every member may be called from any thread.
//  - complete() answers with a Response's status, headers and body (a
//    Response that streams is answered 500).
//  - run_on_worker() hands the request to the worker pool instead: `handler`
//    runs there as a route's handler does (it may block and stream) and
//    answers it (503 when the pool's queue is full).
//  - Only the first complete() or run_on_worker() counts. When every copy is
//    gone without either, the request is answered 500.
//  - on_client_gone(): `cancel` runs once, on an IO thread, when the client
//    goes away before the answer was given (noticed as for other routes:
//    once the request has waited 2 ms). Set it before starting the work it
//    cancels; when the client is already gone it runs at once.
class AsyncReply {
 public:
  explicit AsyncReply(std::shared_ptr<detail::AsyncAnswer> answer);
  const Request& request() const;  // valid while a copy of this reply exists
  void complete(Response& response);
  void run_on_worker(Handler handler);
  void on_client_gone(std::function<void()> cancel);
  bool client_gone() const;

 private:
  std::shared_ptr<detail::AsyncAnswer> answer_;
};

// A handler of Server::route_async: runs on the IO thread that read the
// request and must return at once (no blocking); it answers through the
// AsyncReply, now or later.
using AsyncHandler = std::function<void(const Request&, AsyncReply)>;

struct ServerOptions {
  std::string host = "127.0.0.1";  // address to bind ("0.0.0.0", "::", a name)
  int port = 0;                    // 0: an ephemeral port, see Server::port()
  int io_threads = 0;              // threads running the sockets (0: one per core, at most 4)
  int worker_threads = 4;          // threads running handlers
  std::size_t max_body_bytes = 8u << 20;
  std::size_t max_header_bytes = 16u << 10;
  // Requests accepted but not yet taken by a worker; more are answered 503.
  std::size_t max_pending_requests = 1024;
  std::chrono::milliseconds header_timeout{10'000};  // first byte -> full header
  std::chrono::milliseconds body_timeout{30'000};    // header -> full body
  std::chrono::milliseconds write_timeout{30'000};   // each write of an answer
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive between requests
  std::chrono::milliseconds shutdown_timeout{10'000};  // stop(): in-flight deadline
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS: accept -> handshake done
  // Connections open at once from one client IP address (0: no limit).
  std::size_t max_connections_per_address = 256;
  std::string server_name = "scn";  // the Server header
  tls::ServerTlsConfig tls;         // TLS when tls.enabled()
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  // Stops (graceful, see stop()) and waits.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Exact path. `method` is matched exactly ("GET", "POST", ...).
  void route(std::string method, std::string path, Handler handler);
  // Every path that starts with `prefix`.
  void route_prefix(std::string method, std::string prefix, Handler handler);
  // Exact path, handler run on the IO thread (see the contract above): for
  // answers made from memory in microseconds (health checks, fixed bodies).
  void route_inline(std::string method, std::string path, Handler handler);
  // Exact path, asynchronous handler (AsyncReply): it runs on the IO thread
  // and answers when its work is done (e.g. a proxy waiting for an upstream
  // without a thread blocked on it), or hands the request to the pool.
  void route_async(std::string method, std::string path, AsyncHandler handler);

  // Binds, listens and starts the IO threads and the worker pool. Errors:
  // the address cannot be resolved or bound, or the server was started before.
  Status start();
  // The bound port (valid after a successful start()).
  int port() const;
  // Graceful stop (see the contract). Idempotent, returns at once.
  void stop();
  // Blocks until the server has stopped and its threads have finished.
  // Never call it from a handler (it waits for the handlers to return).
  void wait();
  // Calls stop() on SIGINT or SIGTERM (first calling `on_signal(signo)` when
  // given). Call after start(); the handling ends when the server stops.
  void stop_on_signals(std::function<void(int)> on_signal = {});

  const ServerOptions& options() const { return options_; }
  // Connections currently open (for tests and metrics).
  std::size_t connection_count() const;
  // Connections closed at accept because their address had
  // max_connections_per_address open (since start()).
  std::uint64_t rejected_connections() const;
  // True when the server speaks TLS.
  bool tls() const { return options_.tls.enabled(); }

 private:
  struct Impl;
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::http
