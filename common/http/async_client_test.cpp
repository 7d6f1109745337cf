// The async pooled client against a real server on loopback, driven from a
// coroutine on its own io_context.
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

#include "common/http/async_client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

std::string url(const Server& s, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + std::string(path);
}

// Runs `body` as a coroutine on a fresh io_context until it finishes.
template <typename F>
void run_coro(F body) {
  net::io_context ioc;
  bool done = false;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        co_await body();
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  CHECK(done);
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

struct Upstream {
  Upstream() : server(options()) {
    server.route("POST", "/echo", [this](const Request& rq, Response& rs) {
      ++served;
      rs.set_content(200, "echo " + rq.body + " " + std::string(rq.header("x-test")), "text/plain");
    });
    server.route("GET", "/slow", [](const Request&, Response& rs) {
      std::this_thread::sleep_for(400ms);
      rs.set_json(200, "{}");
    });
    server.route("GET", "/big", [](const Request&, Response& rs) { rs.set_json(200, std::string(5000, 'x')); });
    server.route("GET", "/stream", [this](const Request&, Response& rs) {
      rs.start_stream(200, {{"Content-Type", "text/event-stream"}});
      for (int i = 0; i < 50 && !rs.client_gone(); ++i) {
        rs.write("data: " + std::to_string(i) + "\n\n");
        std::this_thread::sleep_for(10ms);
      }
      saw_gone = rs.client_gone();
      stream_done = true;
    });
    server.route("GET", "/wait", [this](const Request&, Response& rs) {
      for (int i = 0; i < 300 && !rs.client_gone(); ++i) std::this_thread::sleep_for(10ms);
      saw_gone = rs.client_gone();
      stream_done = true;
      rs.set_json(200, "{}");
    });
    REQUIRE(server.start().is_ok());
  }
  static ServerOptions options() {
    ServerOptions o;
    o.idle_timeout = 300ms;
    return o;
  }
  Server server;
  std::atomic<int> served{0};
  std::atomic<bool> saw_gone{false};
  std::atomic<bool> stream_done{false};
};

TEST_CASE("async client: keep-alive reuse, and a connection the server closed is replaced") {
  Upstream up;
  AsyncConnectionPool pool;
  run_coro([&]() -> net::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      Headers h;
      h.set("x-test", "h");
      const std::string body = "b" + std::to_string(i);
      auto r = co_await pool.request("POST", url(up.server, "/echo"), body, h);
      CO_REQUIRE(r.is_ok());
      CO_CHECK(r->status == 200);
      CO_CHECK(r->body == "echo b" + std::to_string(i) + " h");
      CO_CHECK(r->headers.get_or("Content-Type", "") == "text/plain");
    }
    CO_CHECK(pool.connections_opened() == 1);
    CO_CHECK(pool.idle_count() == 1);
    // The server closes the idle connection after 300 ms: the next request
    // notices before any answer byte and goes on a new connection.
    net::steady_timer t(co_await net::this_coro::executor, 500ms);
    (void)co_await t.async_wait(net::as_tuple(net::use_awaitable));
    auto r = co_await pool.request("POST", url(up.server, "/echo"), "again", {});
    CO_REQUIRE(r.is_ok());
    CO_CHECK(r->body == "echo again ");
    CO_CHECK(pool.connections_opened() == 2);
  });
  CHECK(up.served == 4);
}

TEST_CASE("async client: timeouts, answer limit and errors are Status") {
  Upstream up;
  AsyncConnectionPool pool(AsyncPoolOptions{.max_answer_bytes = 1000});
  run_coro([&]() -> net::awaitable<void> {
    auto slow = co_await pool.request("GET", url(up.server, "/slow"), {}, {}, 100ms);
    CO_REQUIRE(!slow.is_ok());
    CO_CHECK(slow.status().code() == Code::kIoError);
    CO_CHECK(slow.status().message().find("timed out") != std::string::npos);
    auto big = co_await pool.request("GET", url(up.server, "/big"), {}, {});
    CO_REQUIRE(!big.is_ok());
    CO_CHECK(big.status().code() == Code::kTooLarge);
    auto bad = co_await pool.request("GET", "ftp://x/", {}, {});
    CO_CHECK(bad.status().code() == Code::kInvalidArgument);
    auto bad_port = co_await pool.request("GET", "http://127.0.0.1:99999/", {}, {});
    CO_CHECK(bad_port.status().code() == Code::kInvalidArgument);
    auto refused = co_await pool.request("GET", "http://127.0.0.1:1/x", {}, {});
    CO_CHECK(refused.status().code() == Code::kUnavailable);
    CO_CHECK(pool.idle_count() == 0);  // failed connections are not pooled
  });
}

TEST_CASE("async client: streaming, stopping early, and cancellation reach the server") {
  Upstream up;
  AsyncConnectionPool pool;
  run_coro([&]() -> net::awaitable<void> {
    int head_status = 0;
    std::string got;
    AsyncHeadCallback on_head = [&](int status, const Headers& h) -> net::awaitable<bool> {
      head_status = status;
      CO_CHECK(h.get_or("Content-Type", "") == "text/event-stream");
      co_return true;
    };
    AsyncDataCallback on_data = [&](std::string_view d) -> net::awaitable<bool> {
      got.append(d);
      co_return got.find("data: 3\n\n") == std::string::npos;  // stop after four events
    };
    auto r = co_await pool.request_stream("GET", url(up.server, "/stream"), {}, {}, on_head, on_data);
    CO_REQUIRE(r.is_ok());
    CO_CHECK(head_status == 200);
    CO_CHECK(got.rfind("data: 0\n\ndata: 1\n\n", 0) == 0);
    CO_CHECK(pool.idle_count() == 0);  // stopped early: closed, not pooled
  });
  for (int i = 0; i < 200 && !up.stream_done; ++i) std::this_thread::sleep_for(10ms);
  CHECK(up.saw_gone);

  up.saw_gone = false;
  up.stream_done = false;
  run_coro([&]() -> net::awaitable<void> {
    AsyncCancel cancel;
    auto ex = co_await net::this_coro::executor;
    net::steady_timer t(ex, 100ms);
    t.async_wait([&](boost::system::error_code ec) {
      if (!ec) cancel.cancel();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await pool.request("GET", url(up.server, "/wait"), {}, {}, 10s, &cancel);
    CO_CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CO_REQUIRE(!r.is_ok());
    CO_CHECK(r.status().code() == Code::kCancelled);
    auto again = co_await pool.request("GET", url(up.server, "/wait"), {}, {}, 10s, &cancel);
    CO_CHECK(again.status().code() == Code::kCancelled);  // cancelled before it started
  });
  for (int i = 0; i < 200 && !up.stream_done; ++i) std::this_thread::sleep_for(10ms);
  CHECK(up.saw_gone);
}

TEST_CASE("async client: one pool used from several io_contexts and threads at once") {
  Upstream up;
  AsyncConnectionPool pool;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      run_coro([&]() -> net::awaitable<void> {
        for (int i = 0; i < 20; ++i) {
          auto r = co_await pool.request("POST", url(up.server, "/echo"), "x", {});
          if (r.is_ok() && r->body == "echo x ") ++ok;
        }
      });
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 60);
  CHECK(pool.connections_opened() == 3);  // one per io_context, reused
  CHECK(pool.idle_count() == 0);          // gone with their io_contexts
}

}  // namespace
}  // namespace scn::http
