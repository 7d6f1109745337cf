// The HTTP server: the accept loop (with the per-address connection limit),
// graceful stop, signals and the IO threads. Connections are
// server_connection.cpp; request building and routing server_request.cpp.
#include "common/http/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <csignal>
#include <exception>
#include <future>

#include "common/http/server_internal.h"
#include "common/log.h"
#include "common/tls/context.h"

namespace scn::http {

using detail::Connection;
using detail::kAwait;
using detail::ServerState;
using detail::tcp;
using boost::system::error_code;
namespace net = boost::asio;

struct Server::Impl : ServerState {
  using ServerState::ServerState;
};

namespace detail {

namespace {
thread_local net::io_context* t_io_context = nullptr;
}  // namespace

net::io_context* current_io_context() { return t_io_context; }
void set_current_io_context(net::io_context* ioc) { t_io_context = ioc; }

// ---- Server::Impl ------------------------------------------------------------

net::awaitable<void> ServerState::accept_loop() {
  const std::size_t cap = options.max_connections_per_address;
  for (;;) {
    // Connections go to the IO threads in turn. A thread has its own
    // io_context, so a connection needs no strand.
    const std::size_t at = next_ioc++ % (more_iocs.size() + 1);
    tcp::socket socket(at == 0 ? ioc.get_executor() : more_iocs[at - 1]->get_executor());
    auto [ec] = co_await acceptor.async_accept(socket, kAwait);
    if (stopping.load() || !acceptor.is_open()) break;
    if (ec) {
      common::log_warn("http: accept failed: ", ec.message());
      net::steady_timer backoff(ioc, std::chrono::milliseconds(50));  // e.g. out of fds
      co_await backoff.async_wait(kAwait);
      continue;
    }
    std::string address;
    if (auto ep = socket.remote_endpoint(ec); !ec) address = ep.address().to_string();
    bool admitted = true;
    {
      std::lock_guard lock(conns_mu);
      std::size_t& open = per_address[address];
      if (cap > 0 && open >= cap) admitted = false;
      else ++open;
    }
    if (!admitted) {
      // Over the per-address limit: close at once (cheapest for a flood).
      std::uint64_t n = rejected.fetch_add(1) + 1;
      if (n == 1 || n % 1000 == 0)
        common::log_warn("http: ", address, " has ", cap, " connections open; closing new ones (",
                         n, " so far)");
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = make_connection(std::move(socket), this, std::move(address));
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

void ServerState::connection_closed(const std::shared_ptr<Connection>& c) {
  bool last;
  {
    std::lock_guard lock(conns_mu);
    conns.erase(c);
    auto it = per_address.find(c->address());
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
    last = conns.empty();
  }
  if (last && stopping.load())
    net::post(ioc, [this] { deadline.cancel(); });
}

void ServerState::begin_stop() {  // on `ioc`'s thread
  error_code ec;
  acceptor.close(ec);
  signals.cancel(ec);
  signals.clear(ec);  // a second Ctrl-C gets the default action again
  std::vector<std::shared_ptr<Connection>> open;
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
    std::vector<std::shared_ptr<Connection>> left;
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
  if (started) net::post(ioc, [this] { begin_stop(); });
}

}  // namespace detail

// ---- Server --------------------------------------------------------------------

Server::Server(ServerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

Server::~Server() {
  stop();
  wait();
}

void Server::route(std::string method, std::string path, Handler handler) {
  impl_->routes.push_back(detail::Route{std::move(method), std::move(path), false, std::move(handler), false, {}});
}

void Server::route_prefix(std::string method, std::string prefix, Handler handler) {
  impl_->routes.push_back(detail::Route{std::move(method), std::move(prefix), true, std::move(handler), false, {}});
}

void Server::route_inline(std::string method, std::string path, Handler handler) {
  impl_->routes.push_back(detail::Route{std::move(method), std::move(path), false, std::move(handler), true, {}});
}

void Server::route_async(std::string method, std::string path, AsyncHandler handler) {
  impl_->routes.push_back(detail::Route{std::move(method), std::move(path), false, {}, false, std::move(handler)});
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
  if (options_.tls.enabled()) {
    auto ctx = tls::make_server_context(options_.tls);
    if (!ctx.is_ok()) return ctx.status();
    s.tls = std::move(ctx).value();
  } else if (!options_.tls.client_ca_file.empty()) {
    return Status::invalid_argument("a TLS client CA needs a TLS certificate and key");
  }
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
  net::co_spawn(s.ioc, s.accept_loop(), [](std::exception_ptr e) {
    if (e) common::log_error("http: the accept loop failed");
  });
  s.pool.start(options_.worker_threads);
  int io_threads = options_.io_threads;
  if (io_threads <= 0) io_threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  for (int i = 1; i < io_threads; ++i) {
    s.more_iocs.push_back(std::make_unique<net::io_context>(1));
    s.more_work.push_back(net::make_work_guard(*s.more_iocs.back()));
  }
  auto run = [](net::io_context& ioc) {
    detail::set_current_io_context(&ioc);
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        common::log_error("http: IO thread: ", e.what());
      }
    }
  };
  s.io_threads.emplace_back([&s, run] {
    run(s.ioc);  // returns once stopped: the acceptor closed, every connection gone
    for (auto& w : s.more_work) w.reset();
  });
  for (auto& ioc : s.more_iocs) s.io_threads.emplace_back([run, &ioc = *ioc] { run(ioc); });
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
  // Registered on `ioc`'s thread; wait for it so that a signal right after this
  // call is already handled.
  auto done = std::make_shared<std::promise<void>>();
  auto registered = done->get_future();
  net::post(s->ioc, [s, done, on_signal = std::move(on_signal)]() mutable {
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

std::uint64_t Server::rejected_connections() const { return impl_->rejected.load(); }

}  // namespace scn::http
