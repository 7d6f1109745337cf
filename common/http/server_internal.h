// Internals of the HTTP server shared by its .cpp files (not for other
// folders; pulls in Asio): the state of a server, routes, the op queue a
// handler fills, and the connection interface behind which a plain TCP or a
// TLS connection runs.
//
// Contract:
//  - ServerState owns the io_context, the acceptor, the open connections and
//    the count of connections per client address (under conns_mu).
//  - make_connection() returns a connection serving `socket` over TLS when
//    the server has a TLS context, else over plain TCP. Its run() serves
//    requests until the connection closes.
//  - build_request() fills a Request from a parsed message (false: the
//    target is malformed; the body is moved); match_route() picks the handler (exact beats
//    prefix, the longest prefix wins) or reports the methods of other routes
//    for the path in `allow`.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/http/response_channel.h"
#include "common/http/server.h"
#include "common/http/worker_pool.h"

namespace scn::http::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

inline constexpr auto kAwait = net::as_tuple(net::use_awaitable);

struct Route {
  std::string method;
  std::string path;
  bool prefix = false;
  Handler handler;
  bool on_io_thread = false;  // route_inline: run where the request was read
  AsyncHandler async_handler;  // route_async (then `handler` is empty)
};

// What a handler asks its connection to do, in order.
struct Op {
  enum Kind { kStart, kChunk, kEnd, kComplete, kAbort, kFinish } kind;
  int status = 200;
  Headers headers;
  std::string data;
};

class Connection;

// The state behind an AsyncReply: the request, whether it was answered, and
// what to run when the client goes away (server_async.cpp).
class AsyncAnswer {
 public:
  AsyncAnswer(std::shared_ptr<Connection> conn, Request request)
      : request(std::move(request)), conn_(std::move(conn)) {}
  ~AsyncAnswer();  // never answered: 500
  AsyncAnswer(const AsyncAnswer&) = delete;
  AsyncAnswer& operator=(const AsyncAnswer&) = delete;

  // True for the one caller that may answer.
  bool claim() { return !answered_.exchange(true); }
  Connection& connection() { return *conn_; }
  void set_cancel(std::function<void()> cancel);
  // The connection saw the client go (IO thread): runs the cancel once.
  void client_went();

  const Request request;

 private:
  std::shared_ptr<Connection> conn_;
  std::atomic<bool> answered_{false};
  std::mutex mu_;
  std::function<void()> cancel_;
  bool went_ = false;
};

// One client connection, plain or TLS (server_connection.cpp).
class Connection : public ResponseChannel, public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(std::string address) : address_(std::move(address)) {}
  // Queues `op` for the IO side (and, when `then_finish`, the end of the
  // answer after it). Any thread.
  virtual void submit(Op op, bool then_finish = false) = 0;
  // Async routes (any thread): the complete answer, or the request handed
  // to the worker pool (false: the pool's queue is full).
  void answer_complete(Op op) { submit(std::move(op), true); }
  virtual bool answer_on_worker(Handler handler, std::shared_ptr<AsyncAnswer> answer) = 0;
  // Serves requests until the connection closes.
  virtual net::awaitable<void> run() = 0;
  virtual net::any_io_executor executor() = 0;
  // Graceful stop: closes the connection when it waits for a request.
  virtual void close_if_idle() = 0;
  // The shutdown deadline passed: the client is considered gone.
  virtual void force_close() = 0;
  // The session ended: a handler still running must not wait for it.
  virtual void abandon() = 0;
  // The client's IP address (the per-address count's key).
  const std::string& address() const { return address_; }

 private:
  std::string address_;
};

// Everything the server shares with its connections.
struct ServerState {
  explicit ServerState(const ServerOptions& o)
      : options(o), ioc(1), acceptor(ioc), deadline(ioc), signals(ioc) {}

  void request_stop();
  void begin_stop();
  void connection_closed(const std::shared_ptr<Connection>& c);
  net::awaitable<void> accept_loop();

  ServerOptions options;
  std::vector<Route> routes;
  std::shared_ptr<net::ssl::context> tls;  // null: plain TCP
  // Each IO thread runs its own io_context, so that a connection, its
  // handlers' answers and the upstream requests an async handler makes on
  // it stay on one thread: no strand, no wake-up of another thread. `ioc`
  // is the first IO thread's and also holds the acceptor; `more_iocs` the
  // others', kept running by `more_work` until `ioc` runs out of work.
  // The acceptor, deadline and signals are `ioc`'s: one thread runs them.
  net::io_context ioc;
  std::vector<std::unique_ptr<net::io_context>> more_iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> more_work;
  std::size_t next_ioc = 0;  // accept_loop only: round-robin
  tcp::acceptor acceptor;
  net::steady_timer deadline;
  net::signal_set signals;
  std::function<void(int)> on_signal;
  std::vector<std::thread> io_threads;
  WorkerPool pool;
  int port = 0;
  bool started = false;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> rejected{0};
  bool deadline_armed = false;  // `ioc`'s thread only
  std::mutex conns_mu;
  std::set<std::shared_ptr<Connection>> conns;
  std::unordered_map<std::string, std::size_t> per_address;  // under conns_mu
  std::mutex wait_mu;
  bool joined = false;
};

// The io_context of the server whose IO thread this is (null elsewhere):
// asynchronous clients started by async handlers run on it.
net::io_context* current_io_context();
void set_current_io_context(net::io_context* ioc);

// Runs `handler` for `request` on this (worker) thread with a Response on
// `conn`, and queues what the Response leaves to send (server_async.cpp).
void run_handler(const std::shared_ptr<Connection>& conn, const Handler& handler, const Request& request);

// `address`: the client's IP address (Connection::address()).
std::shared_ptr<Connection> make_connection(tcp::socket socket, ServerState* server,
                                            std::string address);

// The peer's identity of a TLS connection, set on each of its requests.
struct TlsPeer {
  bool client_cert = false;
  std::optional<std::string> node_id;
};

bool build_request(boost::beast::http::request<boost::beast::http::string_body>& req,
                   Request& request);
const Route* match_route(const std::vector<Route>& routes, const Request& request,
                         std::string& allow);

// Runs an inline route's handler (Server::route_inline) on this thread and
// returns its answer as a kComplete op: a 500 error body when it threw or
// tried to stream.
Op run_inline_handler(const Handler& handler, const Request& request);

// Plain TCP: sends what it can of `parts` at once without blocking (an
// answer almost always fits the socket's buffer); the bytes sent, with `ec`
// set on a socket error (not on a full buffer).
std::size_t send_now(int fd, const std::array<net::const_buffer, 2>& parts, boost::system::error_code& ec);

// Whether an answer with `status` carries a body (and Content-Length): not
// 1xx, 204 or 304.
bool answer_has_body(int status);

// `out` = the head of a complete answer: status line, Server, the handler's
// fields (not Content-Length, Transfer-Encoding or Connection, which are the
// server's; CR and LF in names and values become spaces), Connection as
// keep-alive asks for the HTTP version, Content-Length when the status has
// a body, and the blank line.
void format_answer_head(std::string& out, int status, int version, bool keep_alive,
                        std::string_view server_name, const Headers& headers, std::size_t body_size);

}  // namespace scn::http::detail
