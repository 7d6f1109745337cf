// The HTTP server: an accept loop and one coroutine per connection on Asio
// strands (Beast examples style); handlers run on a worker pool and talk to
// their connection through a small op queue (see ServerConnection).
#include "common/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/http/response_channel.h"
#include "common/http/worker_pool.h"
#include "common/log.h"

namespace scn::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

namespace {

constexpr auto kAwait = net::as_tuple(net::use_awaitable);
// How long a handler runs before its client is watched (see serve_with_handler).
constexpr std::chrono::milliseconds kWatchDelay{2};

struct Route {
  std::string method;
  std::string path;
  bool prefix = false;
  Handler handler;
};

// What a handler asks its connection to do, in order.
struct Op {
  enum Kind { kStart, kChunk, kEnd, kComplete, kAbort, kFinish } kind;
  int status = 200;
  Headers headers;
  std::string data;
};

}  // namespace

class ServerConnection;

// Everything the server shares with its connections.
struct ServerState {
  explicit ServerState(const ServerOptions& o) : options(o), strand(net::make_strand(ioc)),
      acceptor(strand), deadline(strand), signals(strand) {}

  void request_stop();
  void begin_stop();
  void connection_closed(const std::shared_ptr<ServerConnection>& c);
  net::awaitable<void> accept_loop();

  ServerOptions options;
  std::vector<Route> routes;
  net::io_context ioc;
  net::strand<net::io_context::executor_type> strand;  // acceptor, deadline, signals
  tcp::acceptor acceptor;
  net::steady_timer deadline;
  net::signal_set signals;
  std::function<void(int)> on_signal;
  std::vector<std::thread> io_threads;
  detail::WorkerPool pool;
  int port = 0;
  bool started = false;
  std::atomic<bool> stopping{false};
  bool deadline_armed = false;  // strand only
  std::mutex conns_mu;
  std::set<std::shared_ptr<ServerConnection>> conns;
  std::mutex wait_mu;
  bool joined = false;
};

struct Server::Impl : ServerState {
  using ServerState::ServerState;
};

// One TCP connection. Strand-only state is touched by the session coroutine
// and the socket callbacks; the op queue (under mu_) is shared with the
// worker running a handler, which blocks on cv_ until its op is done.
class ServerConnection : public detail::ResponseChannel, public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(tcp::socket socket, ServerState* server)
      : stream_(std::move(socket)), wake_(stream_.get_executor()), server_(server) {
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  net::awaitable<void> run();
  net::any_io_executor executor() { return stream_.get_executor(); }

  // ---- called from any thread ----
  // Graceful stop: closes the connection when it waits for a request.
  void close_if_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->stream_.cancel();
    });
  }
  // The shutdown deadline passed: the client is considered gone.
  void force_close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->gone->store(true);
      error_code ec;
      self->stream_.socket().close(ec);
      self->wake_.cancel();
    });
  }

  // The session ended (normally or by an exception): a handler still running
  // must not wait for it any more.
  void abandon() {
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
  // Queues `op` (and, when `then_finish`, the kFinish op after it) and wakes
  // the session once.
  void submit(Op op, bool then_finish = false) {
    {
      std::lock_guard lock(mu_);
      ops_.push_back(std::move(op));
      ++submitted_;
      if (then_finish) {
        ops_.push_back(Op{Op::kFinish, 0, {}, {}});
        ++submitted_;
      }
    }
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->wake_.cancel(); });
  }

 private:
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

  // ---- strand only ----
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
  void watch_client();
  net::awaitable<bool> read_request(bhttp::request_parser<bhttp::string_body>& parser,
                                    bool first);
  net::awaitable<void> answer_error(int status, std::string_view type, std::string_view message,
                                    bool keep_alive, std::string_view allow = {});
  net::awaitable<void> drain_and_close();
  net::awaitable<bool> serve_with_handler(const Handler& handler, Request request, int version,
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

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer wake_;
  ServerState* server_;
  std::string remote_;
  bool idle_ = false;       // waiting for the first byte of a request
  bool watching_ = false;   // a handler runs: watch the socket for EOF
  bool reading_ = false;    // the watch read is pending
  bool chunked_ = true;     // the streaming answer uses chunked encoding
  std::array<char, 1024> watch_buf_{};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> ops_;
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  bool failed_ = false;
};

void ServerConnection::watch_client() {
  reading_ = true;
  stream_.socket().async_read_some(
      net::buffer(watch_buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->reading_ = false;
        if (!ec) {
          // Pipelined bytes of the next request: keep them for later.
          auto dst = self->buffer_.prepare(n);
          std::memcpy(dst.data(), self->watch_buf_.data(), n);
          self->buffer_.commit(n);
          if (self->watching_ && self->buffer_.size() < self->server_->options.max_header_bytes)
            self->watch_client();
          else
            self->wake_.cancel();
          return;
        }
        if (!(ec == net::error::operation_aborted && !self->watching_)) self->gone->store(true);
        self->wake_.cancel();
      });
}

net::awaitable<bool> ServerConnection::read_request(bhttp::request_parser<bhttp::string_body>& parser,
                                              bool first) {
  const ServerOptions& o = server_->options;
  if (buffer_.size() == 0) {  // idle until the first byte
    if (server_->stopping.load()) co_return false;
    idle_ = true;
    stream_.expires_after(first ? o.header_timeout : o.idle_timeout);
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kAwait);
    idle_ = false;
    if (ec) co_return false;
    buffer_.commit(n);
  }
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(o.max_header_bytes, UINT32_MAX)));
  parser.body_limit(o.max_body_bytes);
  stream_.expires_after(o.header_timeout);
  auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kAwait);
  if (!ec && !parser.is_done()) {
    auto expect = parser.get()[bhttp::field::expect];
    if (iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(o.write_timeout);
      auto [wec, wn] = co_await net::async_write(stream_, net::buffer(kContinue), kAwait);
      if (wec) co_return false;
    }
    stream_.expires_after(o.body_timeout);
    std::tie(ec, n) = co_await bhttp::async_read(stream_, buffer_, parser, kAwait);
  }
  stream_.expires_never();
  if (!ec) co_return true;
  if (ec == bhttp::error::body_limit) {
    co_await answer_error(413, "invalid_request_error",
                          "request body exceeds " + std::to_string(o.max_body_bytes) + " bytes",
                          false);
  } else if (ec == bhttp::error::header_limit) {
    co_await answer_error(431, "invalid_request_error",
                          "request header exceeds " + std::to_string(o.max_header_bytes) + " bytes",
                          false);
  } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() && ec != bhttp::error::end_of_stream &&
             ec != bhttp::error::partial_message) {
    co_await answer_error(400, "invalid_request_error", "malformed HTTP request: " + ec.message(),
                          false);
  }
  // Timeouts, resets and a peer closing mid-request: just drop the connection.
  co_return false;
}

net::awaitable<void> ServerConnection::answer_error(int status, std::string_view type,
                                                    std::string_view message, bool keep_alive,
                                                    std::string_view allow) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, server_->options.server_name);
  res.set(bhttp::field::content_type, "application/json");
  if (!allow.empty()) res.set(bhttp::field::allow, allow);
  res.keep_alive(keep_alive);
  res.body() = error_body(type, message);
  res.prepare_payload();
  stream_.expires_after(server_->options.write_timeout);
  co_await bhttp::async_write(stream_, res, kAwait);
  stream_.expires_never();
  if (!keep_alive) co_await drain_and_close();
}

// After an error answer: half-close and read what the client still sends for
// a moment, so that closing does not reset the connection before the client
// has read the answer.
net::awaitable<void> ServerConnection::drain_and_close() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> scratch;
  std::size_t total = 0;
  stream_.expires_after(std::chrono::milliseconds(500));
  while (!ec && total < (4u << 20)) {
    std::size_t n;
    std::tie(ec, n) = co_await stream_.async_read_some(net::buffer(scratch), kAwait);
    total += n;
  }
  stream_.expires_never();
  stream_.socket().close(ec);
}

net::awaitable<error_code> ServerConnection::do_op(Op& op, int version, bool keep_alive) {
  const ServerOptions& o = server_->options;
  stream_.expires_after(o.write_timeout);
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
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(op.status), version};
      res.set(bhttp::field::server, o.server_name);
      for (const auto& [k, v] : op.headers.fields()) {
        if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding")) continue;
        res.insert(k, v);
      }
      res.keep_alive(keep_alive);
      res.body() = std::move(op.data);
      res.prepare_payload();
      std::tie(ec, n) = co_await bhttp::async_write(stream_, res, kAwait);
      break;
    }
    case Op::kAbort:
    case Op::kFinish:
      break;
  }
  stream_.expires_never();
  co_return ec;
}

// Runs `handler` on the worker pool and carries out what it asks until it
// has returned. True when the connection may serve another request.
net::awaitable<bool> ServerConnection::serve_with_handler(const Handler& handler, Request request,
                                                    int version, bool keep_alive) {
  {
    std::lock_guard lock(mu_);
    ops_.clear();
    submitted_ = completed_ = 0;
    failed_ = false;
  }
  gone->store(false);
  auto self = shared_from_this();
  auto task = [self, &handler, request = std::move(request)]() mutable {
    Response response(std::static_pointer_cast<detail::ResponseChannel>(self));
    bool threw = false;
    try {
      handler(request, response);
    } catch (const std::exception& e) {
      common::log_error("http: handler for ", request.method, " ", request.path, " threw: ", e.what());
      threw = true;
    } catch (...) {
      common::log_error("http: handler for ", request.method, " ", request.path, " threw");
      threw = true;
    }
    if (response.streaming()) {
      if (threw) self->submit(Op{Op::kAbort, 0, {}, {}}, true);
      else if (!response.ended()) self->submit(Op{Op::kEnd, 0, {}, {}}, true);
      else self->submit(Op{Op::kFinish, 0, {}, {}});
    } else {
      if (threw) error_response(response, Status::internal("the handler failed"));
      self->submit(Op{Op::kComplete, response.status(), std::move(response.headers()), response.take_body()},
                   true);
    }
  };
  if (!server_->pool.submit(std::move(task), server_->options.max_pending_requests)) {
    co_await answer_error(503, "unavailable_error", "the server is busy", keep_alive);
    co_return keep_alive;
  }

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
    stream_.socket().cancel(ec);
    while (reading_) co_await sleep_until_woken();
  }
  co_return keep_alive && !broken && !gone->load() && chunked_ && !server_->stopping.load();
}

net::awaitable<void> ServerConnection::run() {
  for (bool first = true;; first = false) {
    bhttp::request_parser<bhttp::string_body> parser;
    if (!co_await read_request(parser, first)) break;
    auto& req = parser.get();
    bool keep_alive = req.keep_alive() && !server_->stopping.load();

    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.version = static_cast<int>(req.version());
    request.remote_address = remote_;
    auto url = boost::urls::parse_origin_form(request.target);
    if (!url) url = boost::urls::parse_absolute_uri(request.target);
    if (!url) {
      co_await answer_error(400, "invalid_request_error", "malformed request target", false);
      break;
    }
    bool target_ok = true;
    try {
      request.path = url->path();
      for (auto p : url->params()) request.query.emplace_back(p.key, p.value);
    } catch (const std::exception&) {
      target_ok = false;
    }
    if (!target_ok) {
      co_await answer_error(400, "invalid_request_error", "malformed request target", false);
      break;
    }
    if (request.path.empty()) request.path = "/";
    for (const auto& f : req) request.headers.add(f.name_string(), f.value());
    request.body = std::move(req.body());

    // Route: exact beats prefix, longer prefix beats shorter.
    const Route* match = nullptr;
    std::string allow;
    for (const auto& r : server_->routes) {
      bool path_ok = r.prefix ? request.path.starts_with(r.path) : request.path == r.path;
      if (!path_ok) continue;
      if (r.method != request.method) {
        if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
        continue;
      }
      if (!match || (match->prefix && (!r.prefix || r.path.size() > match->path.size()))) match = &r;
    }
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
    } else {
      again = co_await serve_with_handler(match->handler, std::move(request),
                                          static_cast<int>(req.version()), keep_alive);
    }
    if (!again || !stream_.socket().is_open()) break;
  }
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.socket().close(ec);
}

// ---- Server::Impl ------------------------------------------------------------

net::awaitable<void> ServerState::accept_loop() {
  for (;;) {
    tcp::socket socket(net::make_strand(ioc));
    auto [ec] = co_await acceptor.async_accept(socket, kAwait);
    if (stopping.load() || !acceptor.is_open()) break;
    if (ec) {
      common::log_warn("http: accept failed: ", ec.message());
      net::steady_timer backoff(strand, std::chrono::milliseconds(50));  // e.g. out of fds
      co_await backoff.async_wait(kAwait);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<ServerConnection>(std::move(socket), this);
    {
      std::lock_guard lock(conns_mu);
      conns.insert(conn);
    }
    net::co_spawn(conn->executor(), conn->run(),
                  [this, conn](std::exception_ptr e) {
                    if (e) {
                      try {
                        std::rethrow_exception(e);
                      } catch (const std::exception& ex) {
                        common::log_error("http: connection failed: ", ex.what());
                      } catch (...) {
                      }
                    }
                    conn->abandon();
                    connection_closed(conn);
                  });
  }
}

void ServerState::connection_closed(const std::shared_ptr<ServerConnection>& c) {
  bool last;
  {
    std::lock_guard lock(conns_mu);
    conns.erase(c);
    last = conns.empty();
  }
  if (last && stopping.load())
    net::post(strand, [this] { deadline.cancel(); });
}

void ServerState::begin_stop() {  // on `strand`
  error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  signals.clear(ec);  // a second Ctrl-C gets the default action again
  std::vector<std::shared_ptr<ServerConnection>> open;
  {
    std::lock_guard lock(conns_mu);
    open.assign(conns.begin(), conns.end());
  }
  for (auto& c : open) c->close_if_idle();
  if (open.empty()) return;
  deadline.cancel();
  deadline.expires_after(options.shutdown_timeout);
  deadline.async_wait([this](error_code ec) {
    if (ec) return;
    std::vector<std::shared_ptr<ServerConnection>> left;
    {
      std::lock_guard lock(conns_mu);
      left.assign(conns.begin(), conns.end());
    }
    if (!left.empty())
      common::log_warn("http: shutdown deadline passed, closing ", left.size(), " connection(s)");
    for (auto& c : left) c->force_close();
  });
}

void ServerState::request_stop() {
  if (stopping.exchange(true)) return;
  if (started) net::post(strand, [this] { begin_stop(); });
}

// ---- Server --------------------------------------------------------------------

Server::Server(ServerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

Server::~Server() {
  stop();
  wait();
}

void Server::route(std::string method, std::string path, Handler handler) {
  impl_->routes.push_back(Route{std::move(method), std::move(path), false, std::move(handler)});
}

void Server::route_prefix(std::string method, std::string prefix, Handler handler) {
  impl_->routes.push_back(Route{std::move(method), std::move(prefix), true, std::move(handler)});
}

Status Server::start() {
  Impl& s = *impl_;
  if (s.started || s.stopping.load()) return Status::conflict("the server was started or stopped before");
  const std::string host = options_.host.empty() ? "0.0.0.0" : options_.host;
  const std::string where = host + ":" + std::to_string(options_.port);
  if (options_.port < 0 || options_.port > 65535)
    return Status::invalid_argument("port out of range: " + std::to_string(options_.port));
  error_code ec;
  tcp::resolver resolver(s.ioc);
  auto results = resolver.resolve(host, std::to_string(options_.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    return Status::invalid_argument("cannot resolve " + where + ": " + ec.message());
  tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    s.acceptor.close(ignored);
    return Status::unavailable("cannot listen on " + where + ": " + ec.message());
  }
  s.port = s.acceptor.local_endpoint(ec).port();
  s.started = true;
  net::co_spawn(s.strand, s.accept_loop(), [](std::exception_ptr e) {
    if (e) common::log_error("http: the accept loop failed");
  });
  s.pool.start(options_.worker_threads);
  int io_threads = options_.io_threads;
  if (io_threads <= 0) io_threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  for (int i = 0; i < io_threads; ++i) {
    s.io_threads.emplace_back([&s] {
      for (;;) {
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          common::log_error("http: IO thread: ", e.what());
        }
      }
    });
  }
  return Status::ok();
}

int Server::port() const { return impl_->port; }

void Server::stop() { impl_->request_stop(); }

void Server::wait() {
  Impl& s = *impl_;
  std::lock_guard lock(s.wait_mu);
  if (!s.started || s.joined) return;
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  s.pool.shutdown();
  s.joined = true;
}

void Server::stop_on_signals(std::function<void(int)> on_signal) {
  Impl* s = impl_.get();
  if (!s->started) return;
  // Registered on the strand; wait for it so that a signal right after this
  // call is already handled.
  auto done = std::make_shared<std::promise<void>>();
  auto registered = done->get_future();
  net::post(s->strand, [s, done, on_signal = std::move(on_signal)]() mutable {
    if (!s->stopping.load()) {
      error_code ec;
      s->signals.add(SIGINT, ec);
      s->signals.add(SIGTERM, ec);
      s->signals.async_wait([s, on_signal = std::move(on_signal)](error_code ec, int signo) {
        if (ec) return;
        common::log_info("http: signal ", signo, ", stopping");
        if (on_signal) on_signal(signo);
        s->request_stop();
      });
    }
    done->set_value();
  });
  registered.wait();
}

std::size_t Server::connection_count() const {
  std::lock_guard lock(impl_->conns_mu);
  return impl_->conns.size();
}

}  // namespace scn::http
