// Server::route_inline: handlers run on the IO thread, without the worker
// pool; over real loopback sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <doctest/doctest.h>
#include <mutex>
#include <thread>

#include "common/http/client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;

std::string base(const Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

// Sends `data` on a fresh connection and reads until `answers` complete
// answers of the form "...\r\n\r\n<body>" with Content-Length have arrived.
std::string raw_exchange(int port, std::string_view data, int answers) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  char buf[4096];
  auto complete = [&] {
    int n = 0;
    for (std::size_t at = 0; (at = out.find("HTTP/1.1 ", at)) != std::string::npos; ++at) ++n;
    return n >= answers && out.ends_with("}");
  };
  while (!complete()) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST_CASE("inline routes answer on the IO thread, also while every worker is busy") {
  ServerOptions o;
  o.worker_threads = 1;
  o.shutdown_timeout = 2s;
  Server server(o);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> blocked{false};
  std::thread::id worker_thread, inline_thread;
  server.route("GET", "/slow", [&](const Request&, Response& res) {
    worker_thread = std::this_thread::get_id();
    blocked = true;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    res.set_json(200, R"({"slow":true})");
  });
  server.route_inline("GET", "/health", [&](const Request& req, Response& res) {
    inline_thread = std::this_thread::get_id();
    res.set_json(200, R"({"q":")" + std::string(req.query_param("q").value_or("")) + R"("})");
    res.set_header("X-Inline", "yes");
  });
  REQUIRE(server.start().is_ok());

  // The only worker is held by /slow: /health still answers, on one
  // keep-alive connection, with the handler's headers.
  std::thread slow([&] { (void)request("GET", base(server) + "/slow"); });
  for (int i = 0; i < 500 && !blocked; ++i) std::this_thread::sleep_for(2ms);
  REQUIRE(blocked);
  Client client(base(server));
  for (int i = 0; i < 3; ++i) {
    auto r = client.request("GET", "/health?q=" + std::to_string(i));
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    CHECK(r->body == R"({"q":")" + std::to_string(i) + R"("})");
    CHECK(r->headers.get_or("X-Inline", "") == "yes");
    CHECK(r->headers.get_or("Content-Type", "") == "application/json");
  }
  CHECK(client.connections_opened() == 1);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  slow.join();
  CHECK(inline_thread != std::thread::id());
  CHECK(inline_thread != worker_thread);
}

TEST_CASE("inline routes: pipelined requests, Connection: close, a throw or a stream is a 500") {
  ServerOptions o;
  o.shutdown_timeout = 2s;
  Server server(o);
  server.route_inline("GET", "/n", [](const Request& req, Response& res) {
    res.set_json(200, R"({"path":")" + req.path + R"("})");
  });
  server.route_inline("GET", "/bye", [](const Request&, Response& res) {
    res.set_json(200, "{}");
    res.set_header("Connection", "close");
  });
  server.route_inline("GET", "/throw", [](const Request&, Response&) { throw std::runtime_error("boom"); });
  std::atomic<bool> stream_refused{false};
  server.route_inline("GET", "/stream", [&](const Request&, Response& res) {
    stream_refused = !res.start_stream(200);
  });
  REQUIRE(server.start().is_ok());

  // Two requests in one write: two answers, in order.
  const std::string two =
      "GET /n HTTP/1.1\r\nHost: x\r\n\r\nGET /n?x HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string out = raw_exchange(server.port(), two, 2);
  CHECK(out.find(R"({"path":"/n"})") != std::string::npos);
  CHECK(out.rfind("HTTP/1.1 200") > out.find("HTTP/1.1 200"));

  Client client(base(server));
  auto bye = client.request("GET", "/bye");
  REQUIRE(bye.is_ok());
  CHECK(bye->status == 200);
  CHECK(bye->headers.get_or("Connection", "") == "close");

  for (const char* path : {"/throw", "/stream"}) {
    auto r = client.request("GET", path);
    REQUIRE(r.is_ok());
    CHECK_MESSAGE(r->status == 500, path);
    CHECK(r->body.find("\"error\"") != std::string::npos);
    // The connection goes on serving.
    auto again = client.request("GET", "/n");
    REQUIRE(again.is_ok());
    CHECK(again->status == 200);
  }
  CHECK(stream_refused);
}

}  // namespace
}  // namespace scn::http
