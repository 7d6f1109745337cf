// One client connection of the HTTP server: a coroutine on one IO thread that
// reads requests, runs their handlers on the worker pool and writes what the
// handlers ask through a small op queue. The same code serves plain TCP
// (beast::tcp_stream) and TLS (beast::ssl_stream over it); every socket
// operation, the TLS handshake included, has its timeout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>

#include "common/http/server_internal.h"
#include "common/http/server_tls_handshake.h"
#include "common/log.h"

namespace scn::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using beast::error_code;

namespace {

// How long a handler runs before its client is watched (see serve_with_handler).
constexpr std::chrono::milliseconds kWatchDelay{2};
// How long closing a TLS connection waits for the peer's close_notify.
constexpr std::chrono::milliseconds kTlsShutdownTimeout{500};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection. State of the IO thread is touched by the session coroutine and
// the socket callbacks; the op queue (under mu_) is shared with the worker
// running a handler, which blocks on cv_ until its op is done.
template <class Stream>
class ServerConnection final : public Connection {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  ServerConnection(tcp::socket socket, ServerState* server, std::string address, std::string remote)
      : Connection(std::move(address)),
        stream_(make_stream(std::move(socket), server)),
        wake_(stream_.get_executor()),
        server_(server),
        remote_(std::move(remote)) {}

  net::awaitable<void> run() override;
  net::any_io_executor executor() override { return stream_.get_executor(); }

  // ---- called from any thread ----
  void close_if_idle() override {
    net::post(stream_.get_executor(), [self = self_ptr()] {
      if (self->idle_) self->lowest().cancel();
    });
  }
  void force_close() override {
    net::post(stream_.get_executor(), [self = self_ptr()] {
      self->gone->store(true);
      error_code ec;
      self->lowest().socket().close(ec);
      self->wake_.cancel();
    });
  }
  void abandon() override {
    gone->store(true);
    {
      std::lock_guard lock(mu_);
      failed_ = true;
      completed_ = UINT64_MAX;
    }
    cv_.notify_all();
  }

  // ---- ResponseChannel: called on the handler's worker thread ----
  bool start_stream(int status, const Headers& headers) override {
    return submit_and_wait(Op{Op::kStart, status, headers, {}});
  }
  bool write(std::string_view chunk) override {
    return submit_and_wait(Op{Op::kChunk, 0, {}, std::string(chunk)});
  }
  void end() override { submit(Op{Op::kEnd, 0, {}, {}}); }

  // ---- async routes (any thread) ----
  bool answer_on_worker(Handler handler, std::shared_ptr<AsyncAnswer> answer) override {
    return server_->pool.submit(
        [self = shared_from_this(), handler = std::move(handler), answer = std::move(answer)] {
          run_handler(self, handler, answer->request);
        },
        server_->options.max_pending_requests);
  }
  // Queues `op` (and, when `then_finish`, the kFinish op after it) and wakes
  // the session once.
  void submit(Op op, bool then_finish = false) override {
    {
      std::lock_guard lock(mu_);
      ops_.push_back(std::move(op));
      ++submitted_;
      if (then_finish) {
        ops_.push_back(Op{Op::kFinish, 0, {}, {}});
        ++submitted_;
      }
    }
    net::post(stream_.get_executor(), [self = self_ptr()] { self->wake_.cancel(); });
  }

 private:
  static Stream make_stream(tcp::socket socket, ServerState* server) {
    if constexpr (kTls) return Stream(std::move(socket), *server->tls);
    else return Stream(std::move(socket));
  }
  std::shared_ptr<ServerConnection> self_ptr() {
    return std::static_pointer_cast<ServerConnection>(shared_from_this());
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  bool submit_and_wait(Op op) {
    std::uint64_t seq;
    {
      std::lock_guard lock(mu_);
      if (failed_) return false;
      seq = submitted_ + 1;
    }
    submit(std::move(op));
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return completed_ >= seq; });
    return !failed_;
  }

  // ---- the IO thread only ----
  net::awaitable<void> sleep_until_woken() {
    wake_.expires_at(net::steady_timer::time_point::max());
    co_await wake_.async_wait(kAwait);
  }
  // Sleeps until woken or `limit` passed; true when the time passed.
  net::awaitable<bool> sleep_until_woken_for(std::chrono::milliseconds limit) {
    wake_.expires_after(limit);
    auto [ec] = co_await wake_.async_wait(kAwait);
    co_return !ec;
  }
  void on_watch_read(error_code ec, std::size_t n);
  void watch_client();
  net::awaitable<bool> read_request(bhttp::request_parser<bhttp::string_body>& parser, bool first);
  net::awaitable<void> answer_error(int status, std::string_view type, std::string_view message,
                                    bool keep_alive, std::string_view allow = {});
  net::awaitable<void> drain_and_close();
  net::awaitable<void> close_connection();
  void reset_ops();
  net::awaitable<bool> serve_with_handler(const Handler& handler, Request request, int version,
                                          bool keep_alive);
  net::awaitable<bool> serve_async(const AsyncHandler& handler, Request request, int version,
                                   bool keep_alive);
  net::awaitable<bool> await_answer(int version, bool keep_alive, std::weak_ptr<AsyncAnswer> async);
  net::awaitable<bool> serve_inline(const Handler& handler, const Request& request, int version,
                                    bool keep_alive);
  net::awaitable<error_code> do_op(Op& op, int version, bool keep_alive);
  void finish_op(bool ok) {
    {
      std::lock_guard lock(mu_);
      if (!ok) failed_ = true;
      ++completed_;
    }
    cv_.notify_all();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer wake_;
  ServerState* server_;
  std::string remote_;
  TlsPeer peer_;            // TLS: who the client is
  bool idle_ = false;       // waiting for the first byte of a request
  bool watching_ = false;   // a handler runs: watch the socket for EOF
  bool reading_ = false;    // the watch read is pending
  bool chunked_ = true;     // the streaming answer uses chunked encoding
  std::array<char, 1024> watch_buf_{};
  std::string head_;        // the head of the answer being written (kept: its capacity is reused)

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> ops_;
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  bool failed_ = false;
};

template <class Stream>
void ServerConnection<Stream>::on_watch_read(error_code ec, std::size_t n) {
  reading_ = false;
  if (!ec) {
    // Pipelined bytes of the next request: keep them for later.
    auto dst = buffer_.prepare(n);
    std::memcpy(dst.data(), watch_buf_.data(), n);
    buffer_.commit(n);
    if (watching_ && buffer_.size() < server_->options.max_header_bytes)
      watch_client();
    else
      wake_.cancel();
    return;
  }
  if (!(ec == net::error::operation_aborted && !watching_)) gone->store(true);
  wake_.cancel();
}

template <class Stream>
void ServerConnection<Stream>::watch_client() {
  reading_ = true;
  auto on_read = [self = self_ptr()](error_code ec, std::size_t n) { self->on_watch_read(ec, n); };
  if constexpr (kTls) stream_.async_read_some(net::buffer(watch_buf_), std::move(on_read));
  else lowest().socket().async_read_some(net::buffer(watch_buf_), std::move(on_read));
}

template <class Stream>
net::awaitable<bool> ServerConnection<Stream>::read_request(
    bhttp::request_parser<bhttp::string_body>& parser, bool first) {
  const ServerOptions& o = server_->options;
  if (buffer_.size() == 0) {  // idle until the first byte
    if (server_->stopping.load()) co_return false;
    idle_ = true;
    lowest().expires_after(first ? o.header_timeout : o.idle_timeout);
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kAwait);
    idle_ = false;
    if (ec) co_return false;
    buffer_.commit(n);
  }
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(o.max_header_bytes, UINT32_MAX)));
  parser.body_limit(o.max_body_bytes);
  // A request that arrived whole (the usual case) is parsed from the buffer
  // at once: Beast's read operations (timers, handlers) cost a tenth of a
  // proxied request. Otherwise the reads below go on with the parser.
  error_code ec;
  std::size_t n = 0;
  while (buffer_.size() > 0 && !parser.is_done()) {
    const std::size_t used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec || used == 0) break;
  }
  if (!ec && !parser.is_done()) {
    lowest().expires_after(o.header_timeout);
    std::tie(ec, n) = co_await bhttp::async_read_header(stream_, buffer_, parser, kAwait);
  }
  if (!ec && !parser.is_done()) {
    auto expect = parser.get()[bhttp::field::expect];
    if (iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      lowest().expires_after(o.write_timeout);
      auto [wec, wn] = co_await net::async_write(stream_, net::buffer(kContinue), kAwait);
      if (wec) co_return false;
    }
    lowest().expires_after(o.body_timeout);
    std::tie(ec, n) = co_await bhttp::async_read(stream_, buffer_, parser, kAwait);
  }
  lowest().expires_never();
  if (!ec) co_return true;
  if (ec == bhttp::error::body_limit) {
    co_await answer_error(413, "invalid_request_error",
                          "request body exceeds " + std::to_string(o.max_body_bytes) + " bytes",
                          false);
  } else if (ec == bhttp::error::header_limit) {
    co_await answer_error(431, "invalid_request_error",
                          "request header exceeds " + std::to_string(o.max_header_bytes) + " bytes",
                          false);
  } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
             ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    co_await answer_error(400, "invalid_request_error", "malformed HTTP request: " + ec.message(),
                          false);
  }
  // Timeouts, resets and a peer closing mid-request: just drop the connection.
  co_return false;
}

template <class Stream>
net::awaitable<void> ServerConnection<Stream>::answer_error(int status, std::string_view type,
                                                            std::string_view message,
                                                            bool keep_alive, std::string_view allow) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, server_->options.server_name);
  res.set(bhttp::field::content_type, "application/json");
  if (!allow.empty()) res.set(bhttp::field::allow, allow);
  res.keep_alive(keep_alive);
  res.body() = error_body(type, message);
  res.prepare_payload();
  lowest().expires_after(server_->options.write_timeout);
  co_await bhttp::async_write(stream_, res, kAwait);
  lowest().expires_never();
  if (!keep_alive) co_await drain_and_close();
}

// After an error answer: half-close and read what the client still sends for
// a moment, so that closing does not reset the connection before the client
// has read the answer. Over TLS: close_notify, then the same.
template <class Stream>
net::awaitable<void> ServerConnection<Stream>::drain_and_close() {
  error_code ec;
  if constexpr (kTls) {
    lowest().expires_after(kTlsShutdownTimeout);
    std::tie(ec) = co_await stream_.async_shutdown(kAwait);
  }
  lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  ec = {};
  std::array<char, 4096> scratch;
  std::size_t total = 0;
  lowest().expires_after(std::chrono::milliseconds(500));
  while (!ec && total < (4u << 20)) {
    std::size_t n;
    std::tie(ec, n) = co_await lowest().async_read_some(net::buffer(scratch), kAwait);
    total += n;
  }
  lowest().expires_never();
  lowest().socket().close(ec);
}

// The end of a session: close_notify (TLS), FIN, close.
template <class Stream>
net::awaitable<void> ServerConnection<Stream>::close_connection() {
  error_code ec;
  if constexpr (kTls) {
    if (lowest().socket().is_open() && !gone->load()) {
      lowest().expires_after(kTlsShutdownTimeout);
      std::tie(ec) = co_await stream_.async_shutdown(kAwait);
      lowest().expires_never();
    }
  }
  lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  lowest().socket().close(ec);
}

template <class Stream>
net::awaitable<error_code> ServerConnection<Stream>::do_op(Op& op, int version, bool keep_alive) {
  const ServerOptions& o = server_->options;
  lowest().expires_after(o.write_timeout);
  error_code ec;
  std::size_t n = 0;
  switch (op.kind) {
    case Op::kStart: {
      bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(op.status), version};
      res.set(bhttp::field::server, o.server_name);
      for (const auto& [k, v] : op.headers.fields()) {
        if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding")) continue;
        res.insert(k, v);
      }
      chunked_ = version >= 11;
      res.keep_alive(keep_alive && chunked_);
      if (chunked_) res.chunked(true);
      bhttp::response_serializer<bhttp::empty_body> sr{res};
      std::tie(ec, n) = co_await bhttp::async_write_header(stream_, sr, kAwait);
      break;
    }
    case Op::kChunk:
      if (chunked_)
        std::tie(ec, n) = co_await net::async_write(stream_, bhttp::make_chunk(net::buffer(op.data)), kAwait);
      else
        std::tie(ec, n) = co_await net::async_write(stream_, net::buffer(op.data), kAwait);
      break;
    case Op::kEnd:
      if (chunked_) std::tie(ec, n) = co_await net::async_write(stream_, bhttp::make_chunk_last(), kAwait);
      break;
    case Op::kComplete: {
      // The head is formatted here and sent with the body in one gathered
      // write: Beast's serializer cost a tenth of a proxied request.
      format_answer_head(head_, op.status, version, keep_alive, o.server_name, op.headers, op.data.size());
      std::array<net::const_buffer, 2> parts{net::buffer(head_), net::buffer(op.data)};
      if (!answer_has_body(op.status)) parts[1] = net::const_buffer();
      std::size_t sent = 0;
      if constexpr (!kTls) {
        // Plain TCP: try to send it all at once, without the async
        // operation's timer and handler; what is left goes the usual way.
        sent = send_now(lowest().socket().native_handle(), parts, ec);
        if (ec) break;
      }
      if (sent < parts[0].size() + parts[1].size()) {
        beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(parts);
        rest.consume(sent);
        std::tie(ec, n) = co_await net::async_write(stream_, rest, kAwait);
      }
      break;
    }
    case Op::kAbort:
    case Op::kFinish:
      break;
  }
  lowest().expires_never();
  co_return ec;
}

template <class Stream>
void ServerConnection<Stream>::reset_ops() {
  {
    std::lock_guard lock(mu_);
    ops_.clear();
    submitted_ = completed_ = 0;
    failed_ = false;
  }
  gone->store(false);
}

// Runs `handler` on the worker pool and carries out what it asks until it
// has returned. True when the connection may serve another request.
template <class Stream>
net::awaitable<bool> ServerConnection<Stream>::serve_with_handler(const Handler& handler,
                                                                  Request request, int version,
                                                                  bool keep_alive) {
  reset_ops();
  auto task = [self = shared_from_this(), &handler, request = std::move(request)] { run_handler(self, handler, request); };
  if (!server_->pool.submit(std::move(task), server_->options.max_pending_requests)) {
    co_await answer_error(503, "unavailable_error", "the server is busy", keep_alive);
    co_return keep_alive;
  }
  co_return co_await await_answer(version, keep_alive, {});
}

// Runs an async route's handler here and carries out its answer, given now
// or later (or by the worker it handed the request to).
template <class Stream>
net::awaitable<bool> ServerConnection<Stream>::serve_async(const AsyncHandler& handler, Request request,
                                                           int version, bool keep_alive) {
  reset_ops();
  std::weak_ptr<AsyncAnswer> watch;
  {
    auto answer = std::make_shared<AsyncAnswer>(self_ptr(), std::move(request));
    watch = answer;
    try {
      handler(answer->request, AsyncReply(answer));
    } catch (const std::exception& e) {
      common::log_error("http: async handler for ", answer->request.path, " threw: ", e.what());
    } catch (...) {
      common::log_error("http: async handler for ", answer->request.path, " threw");
    }
  }  // a handler that kept no reply and did not answer: 500 (~AsyncAnswer)
  co_return co_await await_answer(version, keep_alive, std::move(watch));
}

// Carries out what the handler (on a worker, or async) asks until it has
// finished. True when the connection may serve another request.
template <class Stream>
net::awaitable<bool> ServerConnection<Stream>::await_answer(int version, bool keep_alive,
                                                            std::weak_ptr<AsyncAnswer> async) {
  // The client is watched (a read that notices it leaving) only once the
  // handler has run for kWatchDelay or started streaming: most answers come
  // sooner, and arming and cancelling that read for each of them cost a
  // good part of a fast request.
  watching_ = true;
  bool watch_started = false;
  auto start_watch = [&] {
    if (watch_started) return;
    watch_started = true;
    watch_client();
  };
  bool finished = false, broken = false, closed_by_handler = false;
  while (!finished) {
    std::optional<Op> op;
    {
      std::lock_guard lock(mu_);
      if (!ops_.empty()) {
        op = std::move(ops_.front());
        ops_.pop_front();
      }
    }
    if (!op) {
      if (gone->load() && !async.expired()) {
        if (auto a = async.lock()) a->client_went();
        async.reset();
      }
      if (watch_started) co_await sleep_until_woken();
      else if (co_await sleep_until_woken_for(kWatchDelay)) start_watch();
      continue;
    }
    if (op->kind == Op::kStart) start_watch();
    if (op->kind == Op::kFinish) {
      finished = true;
      finish_op(true);
      continue;
    }
    if (op->kind == Op::kAbort) broken = true;
    if (op->kind == Op::kComplete) {
      auto conn = op->headers.get("Connection");
      if (conn && iequals(*conn, "close")) closed_by_handler = true;
      keep_alive = keep_alive && !closed_by_handler && !server_->stopping.load();
    }
    if (broken || gone->load()) {
      broken = true;
      finish_op(false);
      continue;
    }
    error_code ec = co_await do_op(*op, version, keep_alive);
    if (ec) {
      broken = true;
      gone->store(true);
    }
    finish_op(!ec);
  }
  // Stop watching; wait for the watch read to return (it may carry bytes).
  watching_ = false;
  if (reading_) {
    error_code ec;
    lowest().socket().cancel(ec);
    while (reading_) co_await sleep_until_woken();
  }
  co_return keep_alive && !broken && !gone->load() && chunked_ && !server_->stopping.load();
}

// Runs an inline route's handler here, on the IO thread, and sends its
// complete answer. True when the connection may serve another request.
template <class Stream>
net::awaitable<bool> ServerConnection<Stream>::serve_inline(const Handler& handler,
                                                            const Request& request, int version,
                                                            bool keep_alive) {
  Op op = run_inline_handler(handler, request);
  auto conn = op.headers.get("Connection");
  keep_alive = keep_alive && !(conn && iequals(*conn, "close")) && !server_->stopping.load();
  const error_code ec = co_await do_op(op, version, keep_alive);
  co_return keep_alive && !ec;
}

template <class Stream>
net::awaitable<void> ServerConnection<Stream>::run() {
  if constexpr (kTls) {
    if (!co_await tls_handshake(stream_, buffer_, server_->options, remote_, peer_)) {
      error_code ec;
      lowest().socket().close(ec);
      co_return;
    }
  }
  for (bool first = true;; first = false) {
    bhttp::request_parser<bhttp::string_body> parser;
    if (!co_await read_request(parser, first)) break;
    auto& req = parser.get();
    const int version = static_cast<int>(req.version());
    bool keep_alive = req.keep_alive() && !server_->stopping.load();

    Request request;
    request.remote_address = remote_;
    request.tls = kTls;
    request.tls_client_cert = peer_.client_cert;
    request.tls_peer_node_id = peer_.node_id;
    if (!build_request(req, request)) {
      co_await answer_error(400, "invalid_request_error", "malformed request target", false);
      break;
    }
    std::string allow;
    const Route* match = match_route(server_->routes, request, allow);
    bool again;
    if (!match && allow.empty()) {
      co_await answer_error(404, "not_found_error", "no route for " + request.path, keep_alive);
      again = keep_alive;
    } else if (!match) {
      co_await answer_error(405, "invalid_request_error",
                            "method " + request.method + " is not allowed for " + request.path +
                                " (allowed: " + allow + ")",
                            keep_alive, allow);
      again = keep_alive;
    } else if (match->async_handler) {
      again = co_await serve_async(match->async_handler, std::move(request), version, keep_alive);
    } else if (match->on_io_thread) {
      again = co_await serve_inline(match->handler, request, version, keep_alive);
    } else {
      again = co_await serve_with_handler(match->handler, std::move(request), version, keep_alive);
    }
    if (!again || !lowest().socket().is_open()) break;
  }
  co_await close_connection();
}

}  // namespace

std::shared_ptr<Connection> make_connection(tcp::socket socket, ServerState* server,
                                            std::string address) {
  error_code ec;
  std::string remote;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  if (server->tls)
    return std::make_shared<ServerConnection<TlsStream>>(std::move(socket), server, std::move(address),
                                                         std::move(remote));
  return std::make_shared<ServerConnection<PlainStream>>(std::move(socket), server, std::move(address),
                                                         std::move(remote));
}

}  // namespace scn::http::detail
