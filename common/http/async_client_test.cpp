// Server::route_async and AsyncClient together, as a proxy uses them: an
// async route forwards to an upstream http::Server over real loopback
// sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <thread>

#include "common/http/async_client.h"
#include "common/http/client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;

std::string base(const Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

ServerOptions quick_options() {
  ServerOptions o;
  o.worker_threads = 2;
  o.io_threads = 2;
  o.shutdown_timeout = 2s;
  return o;
}

// A proxy whose async route forwards POST /p to `upstream` + the query's
// `to` path (default /echo), answering the upstream's status and body, or
// 502 with the error's code and message.
struct Proxy {
  explicit Proxy(std::string upstream_base, std::chrono::milliseconds timeout = 5s)
      : upstream(std::move(upstream_base)), server(quick_options()) {
    server.route_async("POST", "/p", [this, timeout](const Request& req, AsyncReply reply) {
      const std::string url = upstream + std::string(req.query_param("to").value_or("/echo"));
      Headers h{{"Content-Type", "application/json"}};
      auto call = client.request("POST", url, req.body, h, timeout, [this, reply](AsyncResult r) mutable {
        Response res;
        if (r.response.is_ok()) {
          res.set_content(r.response->status, std::move(r.response->body), "application/json");
          res.set_header("X-Upstream-Status", std::to_string(r.response->status));
        } else {
          last_code = static_cast<int>(r.response.status().code());
          last_started = r.answer_started;
          res.set_json(502, R"({"error":{"type":"upstream","message":"failed"}})");
        }
        res.set_header("X-Thread-Done", std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
        reply.complete(res);
      });
      if (!call.is_ok()) {
        Response res;
        error_response(res, call.status());
        reply.complete(res);
        return;
      }
      reply.on_client_gone([c = *call] { c.cancel(); });
    });
  }

  std::string upstream;
  AsyncClient client;
  std::atomic<int> last_code{-1};
  std::atomic<bool> last_started{false};
  Server server;  // last: stopped first, before what its handlers use
};

TEST_CASE("an async route forwards through the asynchronous client on pooled connections") {
  Server up(quick_options());
  std::atomic<int> hits{0};
  up.route("POST", "/echo", [&](const Request& req, Response& res) {
    ++hits;
    res.set_json(200, req.body);
  });
  REQUIRE(up.start().is_ok());
  Proxy proxy(base(up));
  REQUIRE(proxy.server.start().is_ok());

  Client c(base(proxy.server));
  for (int i = 0; i < 20; ++i) {
    const std::string body = R"({"i":)" + std::to_string(i) + "}";
    auto r = c.request("POST", "/p", body);
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    CHECK(r->body == body);
    CHECK(r->headers.get_or("X-Upstream-Status", "") == "200");
  }
  CHECK(hits.load() == 20);
  // One connection to the upstream, reused: requests came one at a time.
  CHECK(proxy.client.connections_opened() == 1);
  CHECK(proxy.client.idle_count() == 1);

  // Many at once: every answer is its own.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client tc(base(proxy.server));
      for (int i = 0; i < 25; ++i) {
        const std::string body = R"({"t":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i) + "}";
        auto r = tc.request("POST", "/p", body);
        if (r.is_ok() && r->status == 200 && r->body == body) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good.load() == 200);
  CHECK(proxy.client.connections_opened() <= 9);
}

TEST_CASE("the asynchronous client passes error statuses, and reports failures with their kind") {
  Server up(quick_options());
  up.route("POST", "/missing", [](const Request&, Response& res) {
    res.set_json(404, R"({"error":{"type":"not_found_error","message":"no"}})");
  });
  up.route("POST", "/slow", [](const Request&, Response& res) {
    std::this_thread::sleep_for(600ms);
    res.set_json(200, "{}");
  });
  REQUIRE(up.start().is_ok());
  Proxy proxy(base(up), 150ms);
  REQUIRE(proxy.server.start().is_ok());
  Client c(base(proxy.server));

  auto r = c.request("POST", "/p?to=/missing", "{}");
  REQUIRE(r.is_ok());
  CHECK(r->status == 404);  // any HTTP status is an answer
  CHECK(r->headers.get_or("X-Upstream-Status", "") == "404");

  r = c.request("POST", "/p?to=/slow", "{}");  // each step has 150 ms
  REQUIRE(r.is_ok());
  CHECK(r->status == 502);
  CHECK(proxy.last_code.load() == static_cast<int>(Code::kIoError));
  CHECK_FALSE(proxy.last_started.load());

  // Nothing listens: kUnavailable.
  const int dead_port = [] {
    Server s(quick_options());
    REQUIRE(s.start().is_ok());
    return s.port();
  }();
  Proxy to_nowhere("http://127.0.0.1:" + std::to_string(dead_port));
  REQUIRE(to_nowhere.server.start().is_ok());
  Client c2(base(to_nowhere.server));
  r = c2.request("POST", "/p", "{}");
  REQUIRE(r.is_ok());
  CHECK(r->status == 502);
  CHECK(to_nowhere.last_code.load() == static_cast<int>(Code::kUnavailable));

  // https:// and malformed URLs are refused by request() itself, and so is
  // a call from a thread that is not a server's IO thread.
  Proxy tls_proxy("https://127.0.0.1:1");
  REQUIRE(tls_proxy.server.start().is_ok());
  r = Client(base(tls_proxy.server)).request("POST", "/p", "{}");
  REQUIRE(r.is_ok());
  CHECK(r->status == 400);
  AsyncClient outside;
  auto call = outside.request("GET", base(up) + "/missing", "", {}, 1s, [](AsyncResult) { FAIL("called"); });
  CHECK(call.status().code() == Code::kInternal);
}

TEST_CASE("a pooled connection the upstream closed is replaced, and the request sent once more") {
  auto up = std::make_unique<Server>(quick_options());
  up->route("POST", "/echo", [](const Request& req, Response& res) { res.set_json(200, req.body); });
  REQUIRE(up->start().is_ok());
  const int port = up->port();
  Proxy proxy("http://127.0.0.1:" + std::to_string(port));
  REQUIRE(proxy.server.start().is_ok());
  Client c(base(proxy.server));
  REQUIRE(c.request("POST", "/p", "{\"a\":1}")->status == 200);
  CHECK(proxy.client.idle_count() == 1);

  // The upstream restarts on the same port: the pooled connection is dead.
  up->stop();
  up->wait();
  up.reset();
  ServerOptions o = quick_options();
  o.port = port;
  Server again(o);
  again.route("POST", "/echo", [](const Request& req, Response& res) { res.set_json(200, req.body); });
  REQUIRE(again.start().is_ok());
  auto r = c.request("POST", "/p", "{\"a\":2}");  // at once: not checked before use
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body == "{\"a\":2}");
  CHECK(proxy.client.connections_opened() == 2);
}

TEST_CASE("a client that leaves an async route cancels the upstream request") {
  Server up(quick_options());
  std::atomic<bool> upstream_saw_gone{false};
  up.route("POST", "/long", [&](const Request&, Response& res) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until && !res.client_gone()) std::this_thread::sleep_for(5ms);
    upstream_saw_gone = res.client_gone();
    res.set_json(200, "{}");
  });
  REQUIRE(up.start().is_ok());
  Proxy proxy(base(up), 10s);
  REQUIRE(proxy.server.start().is_ok());

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(proxy.server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string req = "POST /p?to=/long HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::this_thread::sleep_for(300ms);
  ::close(fd);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!upstream_saw_gone.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(upstream_saw_gone.load());
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (proxy.last_code.load() < 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  CHECK(proxy.last_code.load() == static_cast<int>(Code::kCancelled));
}

}  // namespace
}  // namespace scn::http
