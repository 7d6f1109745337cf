// The async pooled HTTP client (async_client.h). Idle connections are kept
// in a service of the io_context they were opened on, so that they never
// outlive it; a connection is used by one coroutine at a time, every call
// on it made from that coroutine's executor. Timeouts: one timer per
// exchange, bound to that executor, whose expiry closes the socket.
#include "common/http/async_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/tls/context.h"
#include "common/tls/https_client.h"

namespace scn::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = net::as_tuple(net::use_awaitable);

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string host_field;  // the Host header: the URL's authority
  std::string target;      // path and query
  std::string key;         // the endpoint: scheme + authority
};

Result<Target> parse_url(std::string_view url) {
  Target t;
  if (url.size() >= 7 && iequals(url.substr(0, 7), "http://")) {
    url.remove_prefix(7);
  } else if (url.size() >= 8 && iequals(url.substr(0, 8), "https://")) {
    t.tls = true;
    url.remove_prefix(8);
  } else {
    return Status::invalid_argument("not an http:// or https:// URL: " + std::string(url));
  }
  const std::size_t end = url.find_first_of("/?#");
  const std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return Status::invalid_argument("bad URL authority: " + std::string(authority));
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Status::invalid_argument("bad IPv6 address in URL");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::invalid_argument("bad URL authority");
      port = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::invalid_argument("URL without a host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535)
      return Status::invalid_argument("bad port in URL: " + std::string(port));
  }
  t.host = std::string(host);
  t.port = port.empty() ? (t.tls ? "443" : "80") : std::string(port);
  t.host_field = std::string(authority);
  t.target = rest.empty() ? "/" : rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
  t.key = (t.tls ? "s/" : "p/") + t.host_field;
  return t;
}

// One upstream connection, plain or TLS.
struct UpConn {
  std::optional<tcp::socket> plain;
  std::unique_ptr<net::ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;
  tcp::socket& lowest() { return tls ? tls->next_layer() : *plain; }
};

struct PoolStats {
  std::atomic<std::size_t> idle{0};
  std::atomic<long long> opened{0};
};

// Idle connections of one io_context (destroyed with it).
class IdleService : public net::execution_context::service {
 public:
  using key_type = IdleService;
  static inline net::execution_context::id id;
  explicit IdleService(net::execution_context& ctx) : net::execution_context::service(ctx) {}

  struct Bucket {
    std::shared_ptr<PoolStats> stats;
    std::vector<std::unique_ptr<UpConn>> conns;
  };

  void shutdown() override {
    std::lock_guard lock(mu);
    for (auto& [k, b] : buckets) b.stats->idle -= b.conns.size();
    buckets.clear();
  }

  std::mutex mu;
  std::unordered_map<std::string, Bucket> buckets;
};

// (Not cached per thread: a new io_context may reuse a destroyed one's address.)
IdleService& idle_service(const net::any_io_executor& ex) {
  return net::use_service<IdleService>(net::query(ex, net::execution::context));
}

// The step deadline of one exchange: once it passes, the connection is
// closed (its pending operation fails). Runs on the exchange's executor.
struct StepTimer {
  explicit StepTimer(const net::any_io_executor& ex) : timer(ex) {}
  net::steady_timer timer;
  Clock::time_point deadline;
  UpConn* conn = nullptr;
  bool timed_out = false;
  bool done = false;

  static void wait(const std::shared_ptr<StepTimer>& self, const net::any_io_executor& ex) {
    self->timer.expires_at(self->deadline);
    self->timer.async_wait(net::bind_executor(ex, [self, ex](error_code ec) {
      if (ec || self->done) return;
      if (Clock::now() < self->deadline) return wait(self, ex);
      self->timed_out = true;
      if (self->conn != nullptr) {
        error_code ignored;
        self->conn->lowest().close(ignored);
      }
    }));
  }
};

std::string step_error(const error_code& ec, bool timed_out) {
  return timed_out ? std::string("timed out") : ec.message();
}

}  // namespace

void AsyncCancel::cancel() {
  cancelled_ = true;
  if (close_) close_();
}

struct AsyncConnectionPool::Impl {
  AsyncPoolOptions options;
  std::shared_ptr<PoolStats> stats = std::make_shared<PoolStats>();
  std::string id;  // prefix of this pool's bucket keys
  std::mutex tls_mu;
  std::optional<tls::ClientTlsConfig> tls_config;  // of tls_ctx
  tls::SslContextPtr tls_ctx;

  Result<tls::SslContextPtr> client_context() {
    const tls::ClientTlsConfig now = tls::default_client_tls();
    std::lock_guard lock(tls_mu);
    if (!tls_ctx || !tls_config || tls_config->ca_file != now.ca_file || tls_config->cert_file != now.cert_file ||
        tls_config->key_file != now.key_file) {
      SCN_ASSIGN_OR_RETURN(tls_ctx, tls::make_client_context(now));
      tls_config = now;
    }
    return tls_ctx;
  }

  std::unique_ptr<UpConn> take(IdleService& svc, const std::string& key) {
    std::lock_guard lock(svc.mu);
    auto it = svc.buckets.find(key);
    if (it == svc.buckets.end()) return nullptr;
    auto& conns = it->second.conns;
    const auto now = Clock::now();
    while (!conns.empty()) {
      auto c = std::move(conns.back());
      conns.pop_back();
      --stats->idle;
      if (now - c->idle_since < options.idle_timeout) return c;
    }
    return nullptr;
  }

  void give_back(IdleService& svc, const std::string& key, std::unique_ptr<UpConn> c) {
    c->idle_since = Clock::now();
    std::lock_guard lock(svc.mu);
    auto& b = svc.buckets[key];
    if (!b.stats) b.stats = stats;
    if (b.conns.size() >= options.max_idle_per_endpoint) return;  // closed
    b.conns.push_back(std::move(c));
    ++stats->idle;
  }

  // One exchange: connection (pooled or new), request, answer.
  net::awaitable<Result<ClientResponse>> exchange(std::string_view method, std::string_view url,
                                                  std::string_view body, const Headers& headers,
                                                  const AsyncHeadCallback* on_head,
                                                  const AsyncDataCallback* on_data, bool streaming,
                                                  std::chrono::milliseconds timeout, AsyncCancel* cancel);
};

net::awaitable<Result<ClientResponse>> AsyncConnectionPool::Impl::exchange(
    std::string_view method, std::string_view url, std::string_view body, const Headers& headers,
    const AsyncHeadCallback* on_head, const AsyncDataCallback* on_data, bool streaming,
    std::chrono::milliseconds timeout, AsyncCancel* cancel) {
  auto parsed = parse_url(url);
  if (!parsed.is_ok()) co_return parsed.status();
  const Target& t = *parsed;
  if (cancel != nullptr && cancel->cancelled()) co_return Status::cancelled("cancelled");
  auto ex = co_await net::this_coro::executor;
  IdleService& svc = idle_service(ex);
  const std::string key = id + t.key;

  // The request message (the body is not copied).
  bhttp::request<bhttp::span_body<const char>> req;
  const bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) req.method_string(method);
  else req.method(verb);
  req.target(t.target);
  req.version(11);
  req.set(bhttp::field::host, t.host_field);
  req.set(bhttp::field::user_agent, "scn");
  for (const auto& [k, v] : headers.fields()) req.set(k, v);
  req.body() = boost::span<const char>(body.data(), body.size());
  if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) req.prepare_payload();

  // Step deadline: the timer closes the connection once it passes.
  std::unique_ptr<UpConn> conn;
  auto watch = std::make_shared<StepTimer>(ex);
  auto step = [&] { watch->deadline = Clock::now() + timeout; };
  step();
  StepTimer::wait(watch, ex);
  struct Disarm {
    std::shared_ptr<StepTimer> watch;
    AsyncCancel* cancel;
    ~Disarm() {
      watch->done = true;
      watch->conn = nullptr;
      watch->timer.cancel();
      if (cancel) cancel->close_ = nullptr;
    }
  } disarm{watch, cancel};
  if (cancel != nullptr) {
    cancel->close_ = [&conn] {
      if (conn) {
        error_code ignored;
        conn->lowest().close(ignored);
      }
    };
  }
  const bool& timed_out = watch->timed_out;

  for (int attempt = 0; attempt < 2; ++attempt) {
    conn = take(svc, key);
    const bool reused = conn != nullptr;
    watch->conn = conn.get();
    if (!reused) {
      conn = std::make_unique<UpConn>();
      if (t.tls) {
        auto ctx = client_context();
        if (!ctx.is_ok()) co_return ctx.status();
        conn->tls = std::make_unique<net::ssl::stream<tcp::socket>>(ex, **ctx);
      } else {
        conn->plain.emplace(ex);
      }
      step();
      tcp::resolver resolver(ex);
      auto [rec, results] = co_await resolver.async_resolve(t.host, t.port, kAwait);
      if (rec) co_return Status::unavailable("cannot resolve " + t.host_field + ": " + rec.message());
      if (cancel != nullptr && cancel->cancelled()) co_return Status::cancelled("cancelled");
      step();
      auto [cec, ep] = co_await net::async_connect(conn->lowest(), results, kAwait);
      if (cec) co_return Status::unavailable("cannot connect to " + t.host_field + ": " + step_error(cec, timed_out));
      ++stats->opened;
      error_code ignored;
      conn->lowest().set_option(tcp::no_delay(true), ignored);
      watch->conn = conn.get();
      if (t.tls) {
        Status prep = tls::prepare_client_ssl(conn->tls->native_handle(), t.host);
        if (!prep.is_ok()) co_return prep;
        step();
        auto [hec] = co_await conn->tls->async_handshake(net::ssl::stream_base::client, kAwait);
        if (hec) co_return Status::unavailable(tls::handshake_error(hec, conn->tls->native_handle(), t.host_field));
      }
    }
    // Send.
    step();
    error_code wec;
    if (conn->tls) std::tie(wec, std::ignore) = co_await bhttp::async_write(*conn->tls, req, kAwait);
    else std::tie(wec, std::ignore) = co_await bhttp::async_write(*conn->plain, req, kAwait);
    if (cancel != nullptr && cancel->cancelled()) co_return Status::cancelled("cancelled");
    if (wec) {
      if (reused && !timed_out) continue;  // the server closed it meanwhile
      co_return Status::io_error("cannot send to " + t.host_field + ": " + step_error(wec, timed_out));
    }
    // The answer's head.
    ClientResponse out;
    std::optional<bhttp::response_parser<bhttp::string_body>> sp;
    std::optional<bhttp::response_parser<bhttp::buffer_body>> bp;
    bhttp::basic_parser<false>* parser;
    if (streaming) {
      bp.emplace();
      bp->body_limit(boost::none);
      parser = &*bp;
    } else {
      sp.emplace();
      sp->body_limit(options.max_answer_bytes);
      parser = &*sp;
    }
    step();
    error_code rec;
    if (conn->tls) std::tie(rec, std::ignore) = co_await bhttp::async_read_header(*conn->tls, conn->buffer, *parser, kAwait);
    else std::tie(rec, std::ignore) = co_await bhttp::async_read_header(*conn->plain, conn->buffer, *parser, kAwait);
    if (cancel != nullptr && cancel->cancelled()) co_return Status::cancelled("cancelled");
    if (rec == bhttp::error::body_limit)  // Content-Length over the limit
      co_return Status::too_large("answer from " + t.host_field + " exceeds " +
                                  std::to_string(options.max_answer_bytes) + " bytes");
    if (rec) {
      const bool nothing = !parser->got_some() && conn->buffer.size() == 0;
      if (reused && nothing && !timed_out) {
        conn->buffer.clear();
        continue;
      }
      co_return Status::io_error("no answer from " + t.host_field + ": " + step_error(rec, timed_out));
    }
    const auto& head = streaming ? bp->get().base() : sp->get().base();
    out.status = static_cast<int>(head.result_int());
    for (const auto& f : head) out.headers.add(f.name_string(), f.value());
    const bool keep = parser->keep_alive();
    if (on_head != nullptr && *on_head) {
      if (!co_await (*on_head)(out.status, out.headers)) co_return out;  // stopped: conn closed
      if (cancel != nullptr && cancel->cancelled()) co_return out;
    }
    // The body.
    if (!streaming) {
      if (!sp->is_done()) {
        step();
        error_code bec;
        if (conn->tls) std::tie(bec, std::ignore) = co_await bhttp::async_read(*conn->tls, conn->buffer, *sp, kAwait);
        else std::tie(bec, std::ignore) = co_await bhttp::async_read(*conn->plain, conn->buffer, *sp, kAwait);
        if (cancel != nullptr && cancel->cancelled()) co_return out;
        if (bec == bhttp::error::body_limit)
          co_return Status::too_large("answer from " + t.host_field + " exceeds " +
                                      std::to_string(options.max_answer_bytes) + " bytes");
        if (bec) co_return Status::io_error("answer from " + t.host_field + " broke: " + step_error(bec, timed_out));
      }
      out.body = std::move(sp->get().body());
    } else {
      // On the heap: a coroutine frame this large would be allocated for
      // every exchange, also the complete ones.
      constexpr std::size_t kChunk = 16384;
      std::unique_ptr<char[]> chunk(new char[kChunk]);
      while (!bp->is_done()) {
        bp->get().body().data = chunk.get();
        bp->get().body().size = kChunk;
        step();
        error_code bec;
        if (conn->tls) std::tie(bec, std::ignore) = co_await bhttp::async_read_some(*conn->tls, conn->buffer, *bp, kAwait);
        else std::tie(bec, std::ignore) = co_await bhttp::async_read_some(*conn->plain, conn->buffer, *bp, kAwait);
        if (bec == bhttp::error::need_buffer) bec = {};
        if (cancel != nullptr && cancel->cancelled()) co_return out;
        if (bec) co_return Status::io_error("answer from " + t.host_field + " broke: " + step_error(bec, timed_out));
        const std::size_t n = kChunk - bp->get().body().size;
        if (n > 0 && on_data != nullptr && *on_data) {
          if (!co_await (*on_data)(std::string_view(chunk.get(), n))) co_return out;
          if (cancel != nullptr && cancel->cancelled()) co_return out;
        }
      }
    }
    if (keep && !timed_out) {
      if (cancel != nullptr) cancel->close_ = nullptr;
      watch->conn = nullptr;
      give_back(svc, key, std::move(conn));
    }
    co_return out;
  }
  co_return Status::io_error("no answer from " + t.host_field);
}

AsyncConnectionPool::AsyncConnectionPool(AsyncPoolOptions options) : impl_(std::make_unique<Impl>()) {
  static std::atomic<long long> next_id{0};
  impl_->options = options;
  impl_->id = std::to_string(next_id++) + "/";
}

AsyncConnectionPool::~AsyncConnectionPool() = default;

net::awaitable<Result<ClientResponse>> AsyncConnectionPool::request(std::string_view method, std::string_view url,
                                                                    std::string_view body, const Headers& headers,
                                                                    std::chrono::milliseconds timeout,
                                                                    AsyncCancel* cancel) {
  return impl_->exchange(method, url, body, headers, nullptr, nullptr, false, timeout, cancel);
}

net::awaitable<Result<ClientResponse>> AsyncConnectionPool::request_stream(
    std::string_view method, std::string_view url, std::string_view body, const Headers& headers,
    const AsyncHeadCallback& on_head, const AsyncDataCallback& on_data, std::chrono::milliseconds timeout,
    AsyncCancel* cancel) {
  return impl_->exchange(method, url, body, headers, &on_head, &on_data, true, timeout, cancel);
}

std::size_t AsyncConnectionPool::idle_count() const { return impl_->stats->idle.load(); }

long long AsyncConnectionPool::connections_opened() const { return impl_->stats->opened.load(); }

}  // namespace scn::http
