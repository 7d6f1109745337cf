// Async routes of the HTTP server: coroutine handlers on the IO threads,
// over real loopback sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <thread>

#include "common/http/async_route.h"
#include "common/http/client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

std::string url(const Server& s, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + std::string(path);
}

net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  (void)co_await t.async_wait(net::as_tuple(net::use_awaitable));
}


// doctest's macros do not compile inside coroutines (GCC 12): these do.
bool expect(bool ok, const char* expr, int line) {
  const std::string what = std::string(expr) + " (line " + std::to_string(line) + ")";
  CHECK_MESSAGE(ok, what);
  return ok;
}
#define CO_CHECK(x) expect(static_cast<bool>(x), #x, __LINE__)
#define CO_REQUIRE(x) \
  if (!expect(static_cast<bool>(x), #x, __LINE__)) co_return

int raw_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

TEST_CASE("async route: answers, keep-alive, body limit, errors, and no worker thread") {
  ServerOptions o;
  o.worker_threads = 1;
  o.max_body_bytes = 64;
  Server server(o);
  std::atomic<std::thread::id> ran_on{};
  route_async(server, "POST", "/echo", [&](const Request& rq, Response& rs) -> net::awaitable<void> {
    ran_on = std::this_thread::get_id();
    rs.set_header("x-path", rq.path);
    rs.set_content(201, "got " + rq.body, "text/plain");
    co_return;
  });
  route_async(server, "GET", "/throw", [](const Request&, Response&) -> net::awaitable<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  route_async(server, "GET", "/close", [](const Request&, Response& rs) -> net::awaitable<void> {
    rs.set_header("Connection", "close");
    rs.set_json(200, "{}");
    co_return;
  });
  REQUIRE(server.start().is_ok());

  Client client(url(server, ""));
  for (int i = 0; i < 3; ++i) {
    auto r = client.request("POST", "/echo", "x" + std::to_string(i));
    REQUIRE(r.is_ok());
    CHECK(r->status == 201);
    CHECK(r->body == "got x" + std::to_string(i));
    CHECK(r->headers.get_or("x-path", "") == "/echo");
  }
  CHECK(client.connections_opened() == 1);  // keep-alive
  CHECK(ran_on.load() != std::this_thread::get_id());

  auto big = client.request("POST", "/echo", std::string(100, 'x'));
  REQUIRE(big.is_ok());
  CHECK(big->status == 413);

  auto threw = request("GET", url(server, "/throw"));
  REQUIRE(threw.is_ok());
  CHECK(threw->status == 500);
  CHECK(threw->body.find("the handler failed") != std::string::npos);

  Client c2(url(server, ""));
  REQUIRE(c2.request("GET", "/close").is_ok());
  REQUIRE(c2.request("GET", "/close").is_ok());
  CHECK(c2.connections_opened() == 2);  // the handler's Connection: close
  auto missing = request("GET", url(server, "/echo"));
  REQUIRE(missing.is_ok());
  CHECK(missing->status == 405);
}

TEST_CASE("async route: many slow handlers interleave on few IO threads") {
  ServerOptions o;
  o.io_threads = 1;
  o.worker_threads = 1;
  Server server(o);
  route_async(server, "GET", "/slow", [](const Request&, Response& rs) -> net::awaitable<void> {
    co_await sleep_for(200ms);
    rs.set_json(200, "{}");
  });
  REQUIRE(server.start().is_ok());
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = request("GET", url(server, "/slow"));
      if (r.is_ok() && r->status == 200) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);  // not 8 x 200 ms in a row
}

TEST_CASE("async route: streaming chunk by chunk, run_blocking, and the last chunk") {
  Server server;
  route_async(server, "GET", "/stream", [](const Request&, Response& rs) -> net::awaitable<void> {
    Headers sse;
    sse.set("Content-Type", "text/event-stream");
    CO_CHECK(co_await async_start_stream(rs, 200, sse));
    int computed = 0;
    co_await run_blocking(rs, [&] { computed = 42; });
    CO_CHECK(computed == 42);
    for (int i = 0; i < 3; ++i) {
      CO_CHECK(co_await async_write(rs, "data: " + std::to_string(i) + "\n\n"));
      co_await sleep_for(20ms);
    }
  });
  REQUIRE(server.start().is_ok());
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> pieces;
  auto r = request_stream("GET", url(server, "/stream"), {}, {}, [&](std::string_view d) {
    pieces.emplace_back(std::string(d), std::chrono::steady_clock::now());
    return true;
  });
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->headers.get_or("Content-Type", "") == "text/event-stream");
  std::string all;
  for (auto& [p, at] : pieces) all += p;
  CHECK(all == "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  REQUIRE(pieces.size() >= 2);  // they came apart, not buffered to the end
  CHECK(pieces.back().second - pieces.front().second >= 20ms);
}

TEST_CASE("async route: a client that leaves fires on_client_gone (cancellation)") {
  Server server;
  std::atomic<bool> fired{false};
  std::atomic<bool> finished{false};
  route_async(server, "GET", "/wait", [&](const Request&, Response& rs) -> net::awaitable<void> {
    net::steady_timer t(co_await net::this_coro::executor, std::chrono::seconds(10));
    on_client_gone(rs, [&] {
      fired = true;
      t.cancel();  // on the handler's own strand
    });
    (void)co_await t.async_wait(net::as_tuple(net::use_awaitable));
    CO_CHECK(rs.client_gone());
    finished = true;
  });
  REQUIRE(server.start().is_ok());
  const int fd = raw_connect(server.port());
  const std::string req = "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::this_thread::sleep_for(100ms);
  ::close(fd);
  for (int i = 0; i < 200 && !finished; ++i) std::this_thread::sleep_for(10ms);
  CHECK(fired);
  CHECK(finished);
  for (int i = 0; i < 100 && server.connection_count() > 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(server.connection_count() == 0);
}

TEST_CASE("async route: the header timeout and graceful stop apply") {
  ServerOptions o;
  o.header_timeout = 200ms;
  Server server(o);
  std::atomic<bool> started{false};
  route_async(server, "GET", "/slow", [&](const Request&, Response& rs) -> net::awaitable<void> {
    started = true;
    co_await sleep_for(300ms);
    rs.set_json(200, R"({"done":true})");
  });
  REQUIRE(server.start().is_ok());
  // A client that never sends its header is dropped.
  const int fd = raw_connect(server.port());
  (void)::send(fd, "GET /slow", 9, MSG_NOSIGNAL);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[16];
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(::recv(fd, buf, sizeof buf, 0) <= 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  ::close(fd);
  // A request in flight finishes across stop().
  Result<ClientResponse> r = Status::internal("not run");
  std::thread t([&] { r = request("GET", url(server, "/slow")); });
  for (int i = 0; i < 100 && !started; ++i) std::this_thread::sleep_for(5ms);
  server.stop();
  t.join();
  server.wait();
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body == R"({"done":true})");
}

TEST_CASE("async helpers on a detached Response (handler tests without sockets)") {
  Response rs;
  bool gone = false;
  net::io_context ioc;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        Headers plain;
        plain.set("Content-Type", "text/plain");
        CO_CHECK(co_await async_start_stream(rs, 200, plain));
        CO_CHECK(co_await async_write(rs, "a"));
        CO_CHECK(co_await async_write(rs, "b"));
        bool ran = false;
        co_await run_blocking(rs, [&] { ran = true; });
        CO_CHECK(ran);
        on_client_gone(rs, [&] { gone = true; });
        fire_client_gone(rs);
        CO_CHECK(!co_await async_write(rs, "c"));
      },
      net::detached);
  ioc.run();
  CHECK(rs.chunks() == std::vector<std::string>{"a", "b"});
  CHECK(gone);
}

}  // namespace
}  // namespace scn::http
