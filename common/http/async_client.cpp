// The asynchronous client (async_client.h): each request is a coroutine on
// the calling IO thread's io_context (no strand: only the request's own coroutine
// touches its connection; cancel() shuts the socket down under the request's
// mutex); connections are Beast tcp_streams pooled per endpoint.
#include "common/http/async_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/http/client_request.h"
#include "common/http/server_internal.h"
#include "common/log.h"

namespace scn::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;
using detail::kAwait;

namespace {

struct Target : detail::UrlTarget {
  std::string key;  // host:port
};

Result<Target> parse_target(std::string_view url) {
  SCN_ASSIGN_OR_RETURN(detail::UrlTarget u, detail::parse_http_url(url));
  Target t;
  static_cast<detail::UrlTarget&>(t) = std::move(u);
  t.key = t.host + ":" + t.port;
  return t;
}

// What a client counts of its connections.
struct ClientStats {
  std::atomic<long long> opened{0};
  std::atomic<long long> idle{0};
  AsyncClientOptions options;
};

struct Conn {
  Conn(net::io_context& ioc, std::shared_ptr<ClientStats> s) : stream(ioc.get_executor()), stats(std::move(s)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;
  std::shared_ptr<ClientStats> stats;

  bool open() { return stream.socket().is_open(); }
  void close() {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
    buffer.clear();
  }
  // Closed by the peer (or unasked bytes came) since it was last used.
  bool peer_closed() {
    if (!open() || buffer.size() > 0) return true;
    return detail::idle_socket_unusable(stream.socket().native_handle());
  }
};

// The idle connections of one io_context, kept as a service of it: its
// sockets must go before the io_context does, and a service is shut down
// (closing them) before the io_context's reactor.
class IdleConnections final : public net::execution_context::service {
 public:
  static inline net::execution_context::id id;
  explicit IdleConnections(net::execution_context& ctx) : net::execution_context::service(ctx) {}

  // The one of the calling IO thread's io_context.
  static IdleConnections& of(net::io_context& ioc) {
    thread_local net::io_context* cached_ioc = nullptr;
    thread_local IdleConnections* cached = nullptr;
    if (cached_ioc != &ioc) {
      cached = &net::use_service<IdleConnections>(ioc);
      cached_ioc = &ioc;
    }
    return *cached;
  }

  // The newest usable idle connection under `key`, or a new (unconnected)
  // one; `reused` tells which.
  std::unique_ptr<Conn> take(const std::string& key, net::io_context& ioc, const std::shared_ptr<ClientStats>& stats,
                             bool* reused) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<Conn>> stale;
    std::unique_ptr<Conn> found;
    {
      std::lock_guard lock(mu_);
      auto it = idle_.find(key);
      if (it != idle_.end()) {
        auto& list = it->second;
        std::size_t expired = 0;  // the oldest are at the front
        while (expired < list.size() && now - list[expired]->idle_since >= stats->options.idle_timeout) ++expired;
        for (std::size_t i = 0; i < expired; ++i) stale.push_back(std::move(list[i]));
        list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(expired));
        while (!list.empty() && !found) {
          auto c = std::move(list.back());
          list.pop_back();
          const bool recent = now - c->idle_since < std::chrono::milliseconds(50);
          if (!recent && c->peer_closed()) stale.push_back(std::move(c));
          else found = std::move(c);
        }
      }
    }
    stats->idle.fetch_sub(static_cast<long long>(stale.size()) + (found ? 1 : 0), std::memory_order_relaxed);
    for (auto& c : stale) c->close();  // idle: nothing else uses them
    *reused = found != nullptr;
    if (found) return found;
    return std::make_unique<Conn>(ioc, stats);
  }

  void give_back(const std::string& key, std::unique_ptr<Conn> c) {
    if (!c->open() || c->buffer.size() > 0) {
      c->close();
      return;
    }
    c->idle_since = std::chrono::steady_clock::now();
    auto stats = c->stats;
    {
      std::lock_guard lock(mu_);
      auto& list = idle_[key];
      if (!shut_ && list.size() < stats->options.max_idle_per_endpoint) {
        list.push_back(std::move(c));
        stats->idle.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    c->close();
  }

 private:
  void shutdown() override {
    std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> all;
    {
      std::lock_guard lock(mu_);
      shut_ = true;
      all.swap(idle_);
    }
    for (auto& [key, list] : all)
      for (auto& c : list) {
        c->stats->idle.fetch_sub(1, std::memory_order_relaxed);
        c->close();
      }
  }

  std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle_;  // client id + host:port
  bool shut_ = false;
};

}  // namespace

struct AsyncClient::Pool {
  std::shared_ptr<ClientStats> stats = std::make_shared<ClientStats>();
  std::string id;  // prefixes the keys of this client's connections
};

struct AsyncCall::State : std::enable_shared_from_this<AsyncCall::State> {
  std::shared_ptr<ClientStats> stats;
  IdleConnections* idle = nullptr;  // of the io_context the request runs on
  std::string key;                  // client id + host:port
  std::unique_ptr<Conn> conn;  // owned until the request finished (its coroutine only)
  bool reused = false;
  Target target;
  std::string head;
  std::string body;
  std::chrono::milliseconds timeout{0};
  AsyncClient::Done done;
  std::atomic<bool> cancelled{false};
  net::any_io_executor executor;
  // The connected socket cancel() may shut down (-1: none, or finished).
  std::mutex mu;
  int fd = -1;
  std::atomic<bool> timed_out{false};

  void set_fd(int f) {
    std::lock_guard lock(mu);
    fd = f;
  }
};

namespace {

net::awaitable<Status> connect(AsyncCall::State& s) {
  Conn& c = *s.conn;
  c.buffer.clear();
  error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(s.target.host, ec);
  std::vector<tcp::endpoint> endpoints;
  if (!ec) {
    endpoints.emplace_back(address, static_cast<unsigned short>(std::stoi(s.target.port)));
  } else {
    tcp::resolver resolver(s.executor);
    auto [rec, results] = co_await resolver.async_resolve(s.target.host, s.target.port, kAwait);
    if (rec) co_return Status::unavailable("cannot resolve " + s.target.host_field + ": " + rec.message());
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  c.stream.expires_after(s.timeout);
  auto [cec, ep] = co_await c.stream.async_connect(endpoints, kAwait);
  c.stream.expires_never();
  if (cec) {
    c.close();
    if (s.cancelled.load()) co_return Status::cancelled("the request was cancelled");
    co_return Status::unavailable("cannot connect to " + s.target.host_field + ": " +
                                  (cec == beast::error::timeout ? std::string("timed out") : cec.message()));
  }
  c.stream.socket().set_option(tcp::no_delay(true), ec);
  s.set_fd(c.stream.socket().native_handle());
  s.stats->opened.fetch_add(1, std::memory_order_relaxed);
  co_return Status::ok();
}

// One try on the connection; `retryable`: it failed before any answer byte
// on a connection that was reused (the peer may have closed it meanwhile).
net::awaitable<AsyncResult> attempt(AsyncCall::State& s, bool* retryable, bool* keep) {
  AsyncResult out;
  *retryable = false;
  *keep = false;
  Conn& c = *s.conn;
  if (!c.open()) {
    Status st = co_await connect(s);
    if (!st.is_ok()) {
      out.response = st;
      co_return out;
    }
  }
  auto io_failure = [&](std::string_view what, const error_code& ec) -> Status {
    if (s.cancelled.load()) return Status::cancelled("the request to " + s.target.host_field + " was cancelled");
    return Status::io_error(std::string(what) + " " + s.target.host_field + ": " +
                            (s.timed_out.load() ? std::string("timed out") : ec.message()));
  };
  if (s.cancelled.load()) {
    out.response = Status::cancelled("the request to " + s.target.host_field + " was cancelled");
    co_return out;
  }
  // One deadline for sending and reading the answer: when it passes, the
  // socket is shut down (as cancel() does) and the pending step fails.
  net::steady_timer deadline(s.executor);
  deadline.expires_after(s.timeout);
  deadline.async_wait([state = s.shared_from_this()](error_code ec) {
    if (ec) return;
    state->timed_out = true;
    std::lock_guard lock(state->mu);
    if (state->fd >= 0) ::shutdown(state->fd, SHUT_RDWR);
  });
  struct Disarm {
    net::steady_timer& t;
    ~Disarm() { t.cancel(); }
  } disarm{deadline};
  const std::array<net::const_buffer, 2> parts{net::buffer(s.head), net::buffer(s.body)};
  auto [wec, wn] = co_await net::async_write(c.stream.socket(), parts, kAwait);
  if (wec) {
    *retryable = !s.cancelled.load() && !s.timed_out.load();
    out.response = io_failure("cannot send to", wec);
    co_return out;
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(s.stats->options.max_body_bytes);
  auto [rec, rn] = co_await bhttp::async_read(c.stream.socket(), c.buffer, parser, kAwait);
  out.answer_started = parser.got_some();
  if (rec) {
    *retryable = !s.cancelled.load() && !s.timed_out.load() && !parser.got_some() &&
                 (rec == bhttp::error::end_of_stream || rec == net::error::connection_reset ||
                  rec == net::error::eof);
    out.response = io_failure("cannot read the answer from", rec);
    co_return out;
  }
  auto& msg = parser.get();
  ClientResponse answer;
  answer.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) answer.headers.add(f.name_string(), f.value());
  answer.body = std::move(msg.body());
  *keep = msg.keep_alive();
  out.response = std::move(answer);
  co_return out;
}

net::awaitable<void> run(std::shared_ptr<AsyncCall::State> s) {
  AsyncResult result;
  bool retryable = false, keep = false;
  if (s->cancelled.load()) {
    result.response = Status::cancelled("the request was cancelled");
  } else {
    result = co_await attempt(*s, &retryable, &keep);
    if (!result.response.is_ok() && s->reused && retryable) {
      s->set_fd(-1);
      s->conn->close();
      s->reused = false;
      result = co_await attempt(*s, &retryable, &keep);
    }
  }
  s->set_fd(-1);  // cancel() no longer touches the connection
  if (result.response.is_ok() && keep && !s->cancelled.load()) {
    s->idle->give_back(s->key, std::move(s->conn));
  } else {
    s->conn->close();
    s->conn.reset();
  }
  auto done = std::move(s->done);
  done(std::move(result));
}

}  // namespace

void AsyncCall::cancel() const {
  if (!state_ || state_->cancelled.exchange(true)) return;
  // Shutting the socket down makes its pending operation fail at once; the
  // request's coroutine then closes it (the descriptor stays valid until
  // then: it is closed only after fd was reset under the mutex).
  std::lock_guard lock(state_->mu);
  if (state_->fd >= 0) ::shutdown(state_->fd, SHUT_RDWR);
}

AsyncClient::AsyncClient(AsyncClientOptions options) : pool_(std::make_shared<Pool>()) {
  static std::atomic<std::uint64_t> next_id{1};
  pool_->stats->options = options;
  pool_->id = std::to_string(next_id.fetch_add(1)) + "|";
}

// Idle connections stay with their io_context until they expire or it goes.
AsyncClient::~AsyncClient() = default;

Result<AsyncCall> AsyncClient::request(std::string_view method, std::string_view url, std::string body,
                                       Headers headers, std::chrono::milliseconds timeout, Done done) {
  net::io_context* ioc = detail::current_io_context();
  if (ioc == nullptr)
    return Status::internal("asynchronous requests are made from a server's IO thread");
  // The last URL of this thread, parsed (a proxy sends to few URLs).
  thread_local std::string last_url;
  thread_local Target last_target;
  if (last_url.empty() || last_url != url) {
    SCN_ASSIGN_OR_RETURN(Target parsed, parse_target(url));
    last_target = std::move(parsed);
    last_url = std::string(url);
  }
  auto s = std::make_shared<AsyncCall::State>();
  s->stats = pool_->stats;
  s->target = last_target;
  s->key = pool_->id + s->target.key;
  s->timeout = timeout;
  s->done = std::move(done);
  s->body = std::move(body);
  SCN_RETURN_IF_ERROR(detail::format_request_head(s->head, method, s->target, headers, s->body.size()));
  s->idle = &IdleConnections::of(*ioc);
  s->conn = s->idle->take(s->key, *ioc, s->stats, &s->reused);
  s->executor = ioc->get_executor();
  if (s->reused) s->fd = s->conn->stream.socket().native_handle();
  net::co_spawn(s->executor, run(s), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      common::log_error("http: asynchronous request failed: ", ex.what());
    } catch (...) {
      common::log_error("http: asynchronous request failed");
    }
  });
  return AsyncCall(std::move(s));
}

std::size_t AsyncClient::idle_count() const {
  return static_cast<std::size_t>(std::max<long long>(0, pool_->stats->idle.load(std::memory_order_relaxed)));
}

long long AsyncClient::connections_opened() const { return pool_->stats->opened.load(std::memory_order_relaxed); }

}  // namespace scn::http
