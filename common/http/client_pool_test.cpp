// ConnectionPool over real loopback sockets: reuse, a stale pooled
// connection retried on a fresh one, the idle bound and timeout, and a
// connection given up early (client gone) that is closed, not pooled.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/http/client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;

std::string url(const Server& s, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + std::string(path);
}

// Reads one HTTP request header (no body) from `fd`; false on EOF/error.
bool read_request_head(int fd) {
  std::string got;
  char buf[1024];
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

void send_all(int fd, std::string_view data) { (void)!::send(fd, data.data(), data.size(), MSG_NOSIGNAL); }

TEST_CASE("pool: sequential requests reuse one connection") {
  Server server;
  server.route("GET", "/who", [](const Request& rq, Response& rs) { rs.set_content(200, rq.remote_address, "text/plain"); });
  REQUIRE(server.start().is_ok());
  ConnectionPool pool;
  std::set<std::string> peers;
  for (int i = 0; i < 10; ++i) {
    auto r = pool.request("GET", url(server, "/who"));
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    peers.insert(r->body);
  }
  CHECK(peers.size() == 1);
  CHECK(pool.connections_opened() == 1);
  CHECK(pool.idle_count() == 1);
  // A streamed request read to its end also gives its connection back.
  std::string body;
  auto r = pool.request_stream(
      "GET", url(server, "/who"), {}, {}, [](int, const Headers&) { return true; },
      [&](std::string_view d) {
        body.append(d);
        return true;
      });
  REQUIRE(r.is_ok());
  CHECK(peers.count(body) == 1);
  CHECK(pool.connections_opened() == 1);
  pool.clear();
  CHECK(pool.idle_count() == 0);
}

TEST_CASE("pool: a pooled connection the server closed is replaced") {
  ServerOptions o;
  o.idle_timeout = 100ms;  // the server drops idle keep-alive connections
  Server server(o);
  server.route("GET", "/x", [](const Request&, Response& rs) { rs.set_content(200, "x", "text/plain"); });
  REQUIRE(server.start().is_ok());
  ConnectionPool pool;
  REQUIRE(pool.request("GET", url(server, "/x")).is_ok());
  std::this_thread::sleep_for(400ms);
  auto r = pool.request("GET", url(server, "/x"));
  REQUIRE(r.is_ok());
  CHECK(r->body == "x");
  CHECK(pool.connections_opened() == 2);
}

TEST_CASE("pool: a request failing before any answer byte on a pooled connection is sent again") {
  // A raw server: the first connection answers one request, then closes on
  // reading the second without answering; the second connection answers.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(lfd, 8) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  std::atomic<int> requests_seen{0};
  std::thread raw([&] {
    int c1 = ::accept(lfd, nullptr, nullptr);
    if (read_request_head(c1)) {
      ++requests_seen;
      send_all(c1, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
    }
    if (read_request_head(c1)) ++requests_seen;
    ::close(c1);  // after the request arrived: no answer byte
    int c2 = ::accept(lfd, nullptr, nullptr);
    if (read_request_head(c2)) {
      ++requests_seen;
      send_all(c2, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain");
    }
    std::this_thread::sleep_for(100ms);
    ::close(c2);
  });
  ConnectionPool pool;
  const std::string u = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto a = pool.request("GET", u);
  REQUIRE(a.is_ok());
  CHECK(a->body == "first");
  auto b = pool.request("GET", u);
  REQUIRE(b.is_ok());
  CHECK(b->body == "again");
  CHECK(pool.connections_opened() == 2);
  raw.join();
  ::close(lfd);
  CHECK(requests_seen == 3);
}

TEST_CASE("pool: idle connections are bounded per endpoint and expire") {
  Server server;
  server.route("GET", "/slow", [](const Request&, Response& rs) {
    std::this_thread::sleep_for(200ms);
    rs.set_content(200, "s", "text/plain");
  });
  REQUIRE(server.start().is_ok());
  ConnectionPool pool(ConnectionPoolOptions{.max_idle_per_endpoint = 2, .idle_timeout = 300ms});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (auto r = pool.request("GET", url(server, "/slow")); r.is_ok() && r->status == 200) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  CHECK(pool.connections_opened() == 4);
  CHECK(pool.idle_count() == 2);
  // Older than idle_timeout: not reused.
  std::this_thread::sleep_for(500ms);
  REQUIRE(pool.request("GET", url(server, "/slow")).is_ok());
  CHECK(pool.connections_opened() == 5);
  CHECK(pool.idle_count() == 1);
}

TEST_CASE("pool: stopping a stream early closes the connection, and the server sees the client go") {
  Server server;
  std::atomic<bool> saw_gone{false};
  server.route("GET", "/stream", [&](const Request&, Response& rs) {
    if (!rs.start_stream(200, {{"Content-Type", "text/event-stream"}})) return;
    for (int i = 0; i < 500 && !rs.client_gone(); ++i) {
      if (!rs.write("data: x\n\n")) break;
      std::this_thread::sleep_for(10ms);
    }
    saw_gone = rs.client_gone();
  });
  REQUIRE(server.start().is_ok());
  ConnectionPool pool;
  int pieces = 0;
  auto r = pool.request_stream(
      "GET", url(server, "/stream"), {}, {}, [](int, const Headers&) { return true; },
      [&](std::string_view) { return ++pieces < 3; });
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(pool.idle_count() == 0);
  for (int i = 0; i < 300 && !saw_gone; ++i) std::this_thread::sleep_for(10ms);
  CHECK(saw_gone);
  // The next request opens a fresh connection.
  auto again = pool.request("GET", url(server, "/missing"));
  REQUIRE(again.is_ok());
  CHECK(again->status == 404);
  CHECK(pool.connections_opened() == 2);
}

TEST_CASE("pool: a cancelled request gives up while waiting, and the server sees the client go") {
  Server server;
  std::atomic<bool> saw_gone{false};
  server.route("POST", "/slow", [&](const Request&, Response& rs) {
    for (int i = 0; i < 500 && !rs.client_gone(); ++i) std::this_thread::sleep_for(10ms);
    saw_gone = rs.client_gone();
    rs.set_content(200, "late", "text/plain");
  });
  REQUIRE(server.start().is_ok());
  ConnectionPool pool;
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(150ms);
    cancel = true;
  });
  const auto since = std::chrono::steady_clock::now();
  bool got_head = false;
  auto r = pool.request_stream(
      "POST", url(server, "/slow"), "x", {}, [&](int, const Headers&) { return got_head = true; },
      [](std::string_view) { return true; }, 10s, [&] { return cancel.load(); });
  const auto took = std::chrono::steady_clock::now() - since;
  canceller.join();
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kCancelled);
  CHECK_FALSE(got_head);
  CHECK(took >= 150ms);
  CHECK(took < 1s);
  CHECK(pool.idle_count() == 0);
  for (int i = 0; i < 300 && !saw_gone; ++i) std::this_thread::sleep_for(10ms);
  CHECK(saw_gone);
  // A check that never fires changes nothing.
  auto ok = pool.request_stream(
      "POST", url(server, "/missing"), "x", {}, [](int, const Headers&) { return true; },
      [](std::string_view) { return true; }, 10s, [] { return false; });
  REQUIRE(ok.is_ok());
  CHECK(ok->status == 404);
}

TEST_CASE("pool: errors are returned, not pooled") {
  ConnectionPool pool;
  CHECK(pool.request("GET", "ftp://x/").status().code() == Code::kInvalidArgument);
  Server probe;
  REQUIRE(probe.start().is_ok());
  const int port = probe.port();
  probe.stop();
  probe.wait();
  auto r = pool.request("GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}, 2000ms);
  CHECK_FALSE(r.is_ok());
  CHECK(pool.idle_count() == 0);
}

}  // namespace
}  // namespace scn::http
