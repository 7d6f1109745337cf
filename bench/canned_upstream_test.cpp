// The canned upstream over real sockets: its answers, keep-alive and
// pipelining, and what it refuses.
#include "bench/canned_upstream.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "bench/http_load.h"
#include "common/http/client.h"

namespace scn::bench {
namespace {

constexpr const char* kBody = R"({"choices":[{"text":" a"}]})";

// Sends `raw` on a new connection and reads until the peer closes or 1 s
// passes without bytes.
std::string exchange(int port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::send(fd, raw.data(), raw.size(), 0) == static_cast<ssize_t>(raw.size()));
  std::string in;
  char buf[4096];
  for (ssize_t r; (r = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, static_cast<std::size_t>(r));
  ::close(fd);
  return in;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("canned upstream: answers from memory, keep-alive, pipelined, refuses what it cannot serve") {
  CannedUpstream canned(kBody);
  REQUIRE(canned.start().is_ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(canned.port());

  auto ok = http::request("POST", base + "/v1/completions", "{}", {}, std::chrono::milliseconds(2000));
  REQUIRE(ok.is_ok());
  CHECK(ok->status == 200);
  CHECK(ok->body == kBody);
  CHECK(ok->headers.get_or("content-type", "") == "application/json");
  auto health = http::request("GET", base + "/health", {}, {}, std::chrono::milliseconds(2000));
  REQUIRE(health.is_ok());
  CHECK(health->status == 200);
  auto other = http::request("GET", base + "/v1/models", {}, {}, std::chrono::milliseconds(2000));
  REQUIRE(other.is_ok());
  CHECK(other->status == 404);
  CHECK(other->body.find("\"error\"") != std::string::npos);

  // Three requests in one write, the last one's body split from its head by
  // nothing: three answers in order, the connection kept open.
  const std::string post = raw_post("/v1/completions", "{\"prompt\":\"x\"}");
  const std::string three = post + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post;
  const std::string answers = exchange(canned.port(), three);
  CHECK(count(answers, "HTTP/1.1 200 OK") == 3);
  CHECK(answers.find(kBody) < answers.find("{}"));

  // Chunked bodies, malformed lengths and huge heads: 400, then closed.
  for (const std::string& bad :
       {std::string("POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        std::string("POST /v1/completions HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"),
        std::string("POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
        "GET /health HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n"}) {
    CAPTURE(bad.substr(0, 60));
    const std::string got = exchange(canned.port(), bad);
    CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(count(got, "HTTP/1.1") == 1);
  }

  // The load generator keeps 8 connections busy against it.
  auto load = run_http_load(canned.port(), post, 8, 600, 0, 2000);
  REQUIRE(load.is_ok());
  CHECK(load->ok >= 2000);
  CHECK(load->errors == 0);

  canned.stop();
  CHECK(!http::request("GET", base + "/health", {}, {}, std::chrono::milliseconds(500)).is_ok());
}

}  // namespace
}  // namespace scn::bench
