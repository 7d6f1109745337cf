// Slow clients and the per-address connection limit: a slowloris from
// 127.0.0.1 (500 connections sending a header byte by byte) must not keep
// the server from answering a client on 127.0.0.2 promptly.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <string>
#include <thread>
#include <vector>

#include "common/http/server.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A non-blocking connection from `source` (e.g. "127.0.0.2") to 127.0.0.1:port;
// -1 when it cannot be opened.
int connect_from(const char* source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One GET from `source`; returns the answer (until the server closes).
std::string get_from(const char* source, int port, const std::string& path) {
  int fd = connect_from(source, port);
  if (fd < 0) return "";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

TEST_CASE("slowloris: 500 byte-by-byte connections from one address; another address is served") {
  ServerOptions o;
  o.max_connections_per_address = 256;
  o.header_timeout = 2s;
  o.shutdown_timeout = 1s;
  Server server(o);
  server.route("GET", "/ping", [](const Request&, Response& res) { res.set_json(200, "{\"ok\":true}"); });
  REQUIRE(server.start().is_ok());
  const int port = server.port();

  // 500 connections from 127.0.0.1, each sending "GET / HTTP/1.1\r\nX: ..."
  // one byte every 50 ms and never finishing the header.
  std::vector<int> slow;
  for (int i = 0; i < 500; ++i) {
    int fd = connect_from("127.0.0.1", port);
    if (fd >= 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      slow.push_back(fd);
    }
  }
  REQUIRE(slow.size() == 500);  // the kernel accepts them all (backlog)
  std::atomic<bool> stop{false};
  std::thread loris([&] {
    const std::string header = "GET /ping HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (std::size_t i = 0; !stop.load(); ++i) {
      char c = header[std::min(i, header.size() - 1)];
      for (int fd : slow) (void)!::send(fd, &c, 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(50ms);
    }
  });

  // Meanwhile requests from 127.0.0.2 are answered promptly.
  std::this_thread::sleep_for(300ms);
  Clock::duration worst{};
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    std::string answer = get_from("127.0.0.2", port, "/ping");
    worst = std::max(worst, Clock::now() - t0);
    CHECK_MESSAGE(answer.starts_with("HTTP/1.1 200"), answer);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(worst < 500ms);
  // The limit held: at most 256 connections of 127.0.0.1 were kept.
  CHECK(server.rejected_connections() >= 500 - 256);
  CHECK(server.connection_count() <= 256);

  // After the header timeout the slow connections are gone, and 127.0.0.1
  // is served again.
  std::this_thread::sleep_for(2200ms);
  stop = true;
  loris.join();
  CHECK(server.connection_count() == 0);
  CHECK(get_from("127.0.0.1", port, "/ping").starts_with("HTTP/1.1 200"));
  for (int fd : slow) ::close(fd);
}

TEST_CASE("per-address limit: the connection over the limit is closed at once, others stay") {
  ServerOptions o;
  o.max_connections_per_address = 2;
  o.shutdown_timeout = 1s;
  Server server(o);
  server.route("GET", "/ping", [](const Request&, Response& res) { res.set_json(200, "{}"); });
  REQUIRE(server.start().is_ok());
  int a = connect_from("127.0.0.1", server.port());
  int b = connect_from("127.0.0.1", server.port());
  for (int i = 0; i < 100 && server.connection_count() < 2; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(server.connection_count() == 2);
  // The third from the same address: closed without an answer.
  std::string third = get_from("127.0.0.1", server.port(), "/ping");
  CHECK(third.empty());
  CHECK(server.rejected_connections() == 1);
  // Another address is not affected.
  CHECK(get_from("127.0.0.2", server.port(), "/ping").starts_with("HTTP/1.1 200"));
  ::close(a);
  ::close(b);
  for (int i = 0; i < 100 && server.connection_count() > 0; ++i) std::this_thread::sleep_for(5ms);
  CHECK(get_from("127.0.0.1", server.port(), "/ping").starts_with("HTTP/1.1 200"));
}

}  // namespace
}  // namespace scn::http
