// The blocking HTTP client: resolve and connect as Beast async operations
// driven on a private io_context, the exchanges as Beast sync operations
// on the socket with per-step deadlines (TimedSocket).
#include "common/http/client.h"

#include "common/http/client_request.h"

#include "common/http/timed_socket.h"
#include "common/tls/https_client.h"  // https:// URLs (issue 9)

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace scn::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

namespace {

using Target = detail::UrlTarget;

Result<Target> parse_url(std::string_view url) { return detail::parse_http_url(url); }

// Starts `initiate(handler)` and runs the context until it completes.
template <typename Initiate>
error_code run_op(net::io_context& ioc, Initiate&& initiate, std::size_t* bytes = nullptr) {
  error_code result = net::error::would_block;
  initiate([&](error_code ec, auto&&... rest) {
    result = ec;
    if constexpr (sizeof...(rest) == 1) {
      if (bytes) *bytes = static_cast<std::size_t>((rest, ...));
    }
  });
  ioc.restart();
  ioc.run();
  return result;
}

Status step_error(std::string_view what, const Target& t, const error_code& ec) {
  std::string m = std::string(what) + " " + t.host_field + ": " +
                  (ec == beast::error::timeout ? std::string("timed out") : ec.message());
  return Status::io_error(std::move(m));
}

// One (keep-alive) connection and the exchanges on it.
struct ClientConnection {
  ClientConnection(std::string base, std::chrono::milliseconds t) : base_url(std::move(base)), timeout(t) {}

  Result<ClientResponse> exchange(std::string_view method, const Target& t, std::string_view body,
                                  const Headers& headers, const DataCallback* on_data,
                                  const HeadCallback* on_head = nullptr, const CancelCheck* cancelled = nullptr);
  Result<ClientResponse> attempt(std::string_view method, const Target& t, std::string_view body,
                                 const Headers& headers, const DataCallback* on_data,
                                 const HeadCallback* on_head, bool* retryable, const CancelCheck* cancelled);
  Status connect(const Target& t);
  void close() {
    error_code ec;
    if (stream) {
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->socket().close(ec);
    }
    stream.reset();
    buffer.clear();
  }

  // An open connection whose peer has closed it (or sent unasked bytes)
  // since the last answer: not worth sending a request on.
  bool peer_closed() {
    if (!stream || !stream->socket().is_open()) return true;
    if (buffer.size() > 0) return true;
    return detail::idle_socket_unusable(stream->socket().native_handle());
  }

  std::string base_url;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::string connected_to;  // host:port of the open connection
  int opened = 0;
};

}  // namespace

struct Client::Impl : ClientConnection {
  using ClientConnection::ClientConnection;
};

Status ClientConnection::connect(const Target& t) {
  close();
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  error_code ec = run_op(ioc, [&](auto h) {
    resolver.async_resolve(t.host, t.port, [&, h](error_code e, tcp::resolver::results_type r) {
      endpoints = std::move(r);
      h(e);
    });
  });
  if (ec) return Status::unavailable("cannot resolve " + t.host_field + ": " + ec.message());
  stream.emplace(ioc);
  stream->expires_after(timeout);
  ec = run_op(ioc, [&](auto h) {
    stream->async_connect(endpoints, [h](error_code e, const tcp::endpoint&) { h(e); });
  });
  if (ec) {
    stream.reset();
    return Status::unavailable("cannot connect to " + t.host_field + ": " +
                               (ec == beast::error::timeout ? std::string("timed out") : ec.message()));
  }
  error_code ignored;
  stream->socket().set_option(tcp::no_delay(true), ignored);
  connected_to = t.host + ":" + t.port;
  ++opened;
  return Status::ok();
}

Result<ClientResponse> ClientConnection::attempt(std::string_view method, const Target& t,
                                             std::string_view body, const Headers& headers,
                                             const DataCallback* on_data,
                                             const HeadCallback* on_head, bool* retryable,
                                             const CancelCheck* cancelled) {
  *retryable = false;
  // The head is formatted here and sent with the body in one gathered
  // write (Beast's request serializer, and the body's copy into the
  // message, cost a tenth of a proxied request).
  std::string head;
  SCN_RETURN_IF_ERROR(detail::format_request_head(head, method, t, headers, body.size()));

  error_code ec;
  if (!stream->socket().non_blocking()) stream->socket().non_blocking(true, ec);  // once per connection
  TimedSocket io(stream->socket(), cancelled);
  // The caller gave up (cancelled): the connection is closed by exchange().
  auto gave_up = [&]() -> Status {
    *retryable = false;
    return Status::cancelled("the request to " + t.host_field + " was cancelled");
  };
  io.arm(timeout);
  const std::array<net::const_buffer, 2> parts{net::buffer(head), net::buffer(body.data(), body.size())};
  if (!ec) net::write(io, parts, ec);
  if (ec) {
    if (io.was_cancelled()) return gave_up();
    *retryable = true;
    return step_error("cannot send to", t, ec);
  }
  if (buffer.size() == 0) io.expect_answer();

  ClientResponse out;
  auto finish_header = [&](const auto& msg) {
    out.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg) out.headers.add(f.name_string(), f.value());
  };
  if (!on_data) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    io.arm(timeout);
    bhttp::read_header(io, buffer, parser, ec);
    if (!ec) {
      // Each read step gets the full timeout; the body may be long.
      while (!parser.is_done() && !ec) {
        io.arm(timeout);
        bhttp::read_some(io, buffer, parser, ec);
      }
    }
    if (ec) {
      if (io.was_cancelled()) return gave_up();
      *retryable = (ec == bhttp::error::end_of_stream || ec == net::error::connection_reset) &&
                   !parser.got_some();
      return step_error("cannot read the answer from", t, ec);
    }
    finish_header(parser.get());
    out.body = std::move(parser.get().body());
    if (!parser.get().keep_alive()) close();
    return out;
  }

  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  io.arm(timeout);
  bhttp::read_header(io, buffer, parser, ec);
  if (ec) {
    if (io.was_cancelled()) return gave_up();
    *retryable = (ec == bhttp::error::end_of_stream || ec == net::error::connection_reset) &&
                 !parser.got_some();
    return step_error("cannot read the answer from", t, ec);
  }
  finish_header(parser.get());
  if (on_head && !(*on_head)(out.status, out.headers)) {
    close();  // stopped at the head: the body is not wanted
    return out;
  }
  std::array<char, 16384> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    io.arm(timeout);
    bhttp::read_some(io, buffer, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      close();
      if (io.was_cancelled()) return out;  // given up during the body: as on_data stopping
      return step_error("cannot read the answer from", t, ec);
    }
    std::size_t n = chunk.size() - parser.get().body().size;
    if (n > 0 && !(*on_data)(std::string_view(chunk.data(), n))) {
      close();  // stopped early: the rest of the body is not wanted
      return out;
    }
  }
  if (!parser.get().keep_alive()) close();
  return out;
}

Result<ClientResponse> ClientConnection::exchange(std::string_view method, const Target& t,
                                              std::string_view body, const Headers& headers,
                                              const DataCallback* on_data,
                                              const HeadCallback* on_head,
                                              const CancelCheck* cancelled) {
  try {
    if (stream && connected_to != t.host + ":" + t.port) close();
    bool reused = stream.has_value();
    if (!reused) SCN_RETURN_IF_ERROR(connect(t));
    bool retryable = false;
    auto result = attempt(method, t, body, headers, on_data, on_head, &retryable, cancelled);
    if (!result.is_ok()) {
      close();
      // A kept-alive connection the server had closed meanwhile: once more.
      if (reused && retryable) {
        SCN_RETURN_IF_ERROR(connect(t));
        result = attempt(method, t, body, headers, on_data, on_head, &retryable, cancelled);
        if (!result.is_ok()) close();
      }
    }
    return result;
  } catch (const std::exception& e) {
    close();
    return Status::io_error(std::string("HTTP request failed: ") + e.what());
  }
}

// ---- public ------------------------------------------------------------------

Client::Client(std::string base_url, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(base_url), timeout)) {}

Client::~Client() { impl_->close(); }

Result<ClientResponse> Client::request(std::string_view method, std::string_view path_and_query,
                                       std::string_view body, const Headers& headers) {
  SCN_ASSIGN_OR_RETURN(Target t, parse_url(impl_->base_url));
  if (t.path == "/") t.path.clear();
  while (!t.path.empty() && t.path.back() == '/') t.path.pop_back();
  t.path += path_and_query;
  if (t.path.empty()) t.path = "/";
  return impl_->exchange(method, t, body, headers, nullptr);
}

Result<ClientResponse> Client::request_stream(std::string_view method,
                                              std::string_view path_and_query,
                                              std::string_view body, const Headers& headers,
                                              const DataCallback& on_data) {
  SCN_ASSIGN_OR_RETURN(Target t, parse_url(impl_->base_url));
  while (!t.path.empty() && t.path.back() == '/') t.path.pop_back();
  t.path += path_and_query;
  if (t.path.empty()) t.path = "/";
  return impl_->exchange(method, t, body, headers, &on_data);
}

void Client::close() { impl_->close(); }

int Client::connections_opened() const { return impl_->opened; }

Result<ClientResponse> request(std::string_view method, std::string_view url,
                               std::string_view body, const Headers& headers,
                               std::chrono::milliseconds timeout) {
  // TLS (common/tls, issue 9): https:// goes to tls::https_request_stream.
  if (tls::is_https_url(url))
    return tls::https_request_stream(tls::default_client_tls(), method, url, body, headers, nullptr, nullptr, timeout);
  SCN_ASSIGN_OR_RETURN(Target t, parse_url(url));
  ClientConnection impl{std::string(url), timeout};
  auto result = impl.exchange(method, t, body, headers, nullptr);
  impl.close();
  return result;
}

Result<ClientResponse> request_stream(std::string_view method, std::string_view url,
                                      std::string_view body, const Headers& headers,
                                      const DataCallback& on_data,
                                      std::chrono::milliseconds timeout) {
  // TLS (common/tls, issue 9): https:// goes to tls::https_request_stream.
  if (tls::is_https_url(url))
    return tls::https_request_stream(tls::default_client_tls(), method, url, body, headers, nullptr, &on_data, timeout);
  SCN_ASSIGN_OR_RETURN(Target t, parse_url(url));
  ClientConnection impl{std::string(url), timeout};
  auto result = impl.exchange(method, t, body, headers, &on_data);
  impl.close();
  return result;
}

Result<ClientResponse> request_stream(std::string_view method, std::string_view url,
                                      std::string_view body, const Headers& headers,
                                      const HeadCallback& on_head, const DataCallback& on_data,
                                      std::chrono::milliseconds timeout) {
  // TLS (common/tls, issue 9): https:// goes to tls::https_request_stream.
  if (tls::is_https_url(url))
    return tls::https_request_stream(tls::default_client_tls(), method, url, body, headers, &on_head, &on_data, timeout);
  SCN_ASSIGN_OR_RETURN(Target t, parse_url(url));
  ClientConnection impl{std::string(url), timeout};
  auto result = impl.exchange(method, t, body, headers, &on_data, &on_head);
  impl.close();
  return result;
}

// ---- ConnectionPool --------------------------------------------------------------

struct ConnectionPool::Impl {
  static constexpr std::chrono::milliseconds kRecentlyUsed{50};

  struct Idle {
    std::unique_ptr<ClientConnection> conn;
    std::chrono::steady_clock::time_point since;
  };

  explicit Impl(ConnectionPoolOptions o) : options(o) {}

  // The newest usable idle connection to `key`, or a new (unconnected) one.
  std::unique_ptr<ClientConnection> take(const std::string& key) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<ClientConnection>> stale;
    std::unique_ptr<ClientConnection> found;
    {
      std::lock_guard lock(mu);
      auto it = idle.find(key);
      if (it != idle.end()) {
        auto& list = it->second;
        // Expired ones are the oldest: at the front.
        std::size_t expired = 0;
        while (expired < list.size() && now - list[expired].since >= options.idle_timeout) ++expired;
        for (std::size_t i = 0; i < expired; ++i) stale.push_back(std::move(list[i].conn));
        list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(expired));
        while (!list.empty() && !found) {
          // A connection given back moments ago is taken as it is (a peek
          // per request was a system call each); should its peer have
          // closed it meanwhile, exchange() sends again on a new one.
          const bool recent = now - list.back().since < kRecentlyUsed;
          auto c = std::move(list.back().conn);
          list.pop_back();
          if (!recent && c->peer_closed()) stale.push_back(std::move(c));
          else found = std::move(c);
        }
      }
    }
    for (auto& c : stale) c->close();
    if (found) return found;
    return std::make_unique<ClientConnection>(std::string(), kDefaultClientTimeout);
  }

  void give_back(const std::string& key, std::unique_ptr<ClientConnection> c) {
    if (!c->stream || c->buffer.size() > 0) {
      c->close();
      return;
    }
    {
      std::lock_guard lock(mu);
      auto& list = idle[key];
      if (list.size() < options.max_idle_per_endpoint) {
        list.push_back(Idle{std::move(c), std::chrono::steady_clock::now()});
        return;
      }
    }
    c->close();
  }

  Result<ClientResponse> run(std::string_view method, std::string_view url, std::string_view body,
                             const Headers& headers, const HeadCallback* on_head,
                             const DataCallback* on_data, std::chrono::milliseconds timeout,
                             const CancelCheck* cancelled = nullptr) {
    // The last URL of this thread, parsed (parsing cost a few % of a
    // proxied request; a gateway sends to few URLs).
    struct Parsed {
      std::string url;
      Target target;
      std::string key;
    };
    thread_local Parsed last;
    if (last.url.empty() || last.url != url) {
      SCN_ASSIGN_OR_RETURN(Target parsed, parse_url(url));
      last.target = std::move(parsed);
      last.key = last.target.host + ":" + last.target.port;
      last.url = std::string(url);
    }
    const Target t = last.target;  // copies: a callback may send another request
    const std::string key = last.key;
    auto conn = take(key);
    conn->timeout = timeout;
    const int before = conn->opened;
    auto result = conn->exchange(method, t, body, headers, on_data, on_head, cancelled);
    opened.fetch_add(conn->opened - before, std::memory_order_relaxed);
    if (result.is_ok()) give_back(key, std::move(conn));
    else conn->close();
    return result;
  }

  ConnectionPoolOptions options;
  mutable std::mutex mu;
  std::unordered_map<std::string, std::vector<Idle>> idle;
  std::atomic<long long> opened{0};
};

ConnectionPool::ConnectionPool(ConnectionPoolOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

ConnectionPool::~ConnectionPool() { clear(); }

Result<ClientResponse> ConnectionPool::request(std::string_view method, std::string_view url,
                                               std::string_view body, const Headers& headers,
                                               std::chrono::milliseconds timeout) {
  // TLS (common/tls, issue 9): https:// goes to tls::https_request_stream.
  if (tls::is_https_url(url))
    return tls::https_request_stream(tls::default_client_tls(), method, url, body, headers, nullptr, nullptr, timeout);
  return impl_->run(method, url, body, headers, nullptr, nullptr, timeout);
}

Result<ClientResponse> ConnectionPool::request_stream(std::string_view method, std::string_view url,
                                                      std::string_view body, const Headers& headers,
                                                      const HeadCallback& on_head,
                                                      const DataCallback& on_data,
                                                      std::chrono::milliseconds timeout) {
  // TLS (common/tls, issue 9): https:// goes to tls::https_request_stream.
  if (tls::is_https_url(url))
    return tls::https_request_stream(tls::default_client_tls(), method, url, body, headers, &on_head, &on_data, timeout);
  return impl_->run(method, url, body, headers, &on_head, &on_data, timeout);
}

Result<ClientResponse> ConnectionPool::request_stream(std::string_view method, std::string_view url,
                                                      std::string_view body, const Headers& headers,
                                                      const HeadCallback& on_head,
                                                      const DataCallback& on_data,
                                                      std::chrono::milliseconds timeout,
                                                      const CancelCheck& cancelled) {
  // TLS (common/tls, issue 9): https:// goes to tls::https_request_stream,
  // which does not poll `cancelled` (on_data's answer still stops it).
  if (tls::is_https_url(url))
    return tls::https_request_stream(tls::default_client_tls(), method, url, body, headers, &on_head, &on_data, timeout);
  return impl_->run(method, url, body, headers, &on_head, &on_data, timeout, &cancelled);
}

std::size_t ConnectionPool::idle_count() const {
  std::lock_guard lock(impl_->mu);
  std::size_t n = 0;
  for (const auto& [key, list] : impl_->idle) n += list.size();
  return n;
}

long long ConnectionPool::connections_opened() const {
  return impl_->opened.load(std::memory_order_relaxed);
}

void ConnectionPool::clear() {
  std::unordered_map<std::string, std::vector<Impl::Idle>> all;
  {
    std::lock_guard lock(impl_->mu);
    all.swap(impl_->idle);
  }
  for (auto& [key, list] : all)
    for (auto& i : list) i.conn->close();
}

}  // namespace scn::http
