// The HTTP server over TLS: real handshakes over loopback with certificates
// from common/tls/pki.h, the https client of common/tls, and raw sockets for
// what a TLS client never sends.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <doctest/doctest.h>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/http/client.h"
#include "common/tls/context.h"
#include "common/http/server.h"
#include "common/tls/https_client.h"
#include "common/tls/pki.h"
#include "tests/testing.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNodeX = "11111111-2222-4333-8444-555555555555";

struct Pki {
  testing::TempDir dir;
  std::string d = dir.path().string();
  std::string ca = d + "/ca.crt";
  Pki() {
    REQUIRE(tls::init_ca({.dir = d}).is_ok());
    REQUIRE(tls::issue_cert({.dir = d, .name = "server", .sans = {"DNS:localhost,IP:127.0.0.1"}}).is_ok());
    REQUIRE(tls::issue_cert({.dir = d, .name = "agent-x", .client = true, .node_id = kNodeX}).is_ok());
    REQUIRE(tls::issue_cert({.dir = d, .name = "plain-client", .client = true}).is_ok());
  }
  tls::ServerTlsConfig server(bool mtls, bool optional = false) const {
    tls::ServerTlsConfig c{d + "/server.crt", d + "/server.key", mtls ? ca : ""};
    c.client_cert_optional = optional;
    return c;
  }
  tls::ClientTlsConfig client(const std::string& name = "") const {
    if (name.empty()) return {ca, "", ""};
    return {ca, d + "/" + name + ".crt", d + "/" + name + ".key"};
  }
};

// A server answering who the client is: "tls=<0|1> cert=<0|1> node=<id|->".
struct WhoServer {
  Server server;
  explicit WhoServer(const tls::ServerTlsConfig& tls, ServerOptions o = {}) : server(with(o, tls)) {
    server.route("GET", "/who", [](const Request& req, Response& res) {
      res.set_content(200,
                      "tls=" + std::to_string(req.tls) + " cert=" + std::to_string(req.tls_client_cert) +
                          " node=" + req.tls_peer_node_id.value_or("-"),
                      "text/plain");
    });
    server.route("GET", "/stream", [](const Request&, Response& res) {
      REQUIRE(res.start_stream(200, Headers{{"Content-Type", "text/event-stream"}}));
      for (int i = 0; i < 3; ++i) {
        CHECK(res.write("data: " + std::to_string(i) + "\n\n"));
        std::this_thread::sleep_for(20ms);
      }
      res.end();
    });
    auto st = server.start();
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  }
  static ServerOptions with(ServerOptions o, const tls::ServerTlsConfig& tls) {
    o.tls = tls;
    o.shutdown_timeout = 2s;
    return o;
  }
  std::string url(std::string_view path, std::string_view host = "127.0.0.1") const {
    return "https://" + std::string(host) + ":" + std::to_string(server.port()) + std::string(path);
  }
};

// A plain TCP connection to 127.0.0.1:port.
struct Raw {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  explicit Raw(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Raw() { ::close(fd); }
  void send(std::string_view s) { (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  // Everything until the peer closes (or 5 s pass); `closed` tells which.
  std::string read_all(bool* closed) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        *closed = n == 0 || errno == ECONNRESET;
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
};

TEST_CASE("tls server: https round trip with the client of common/http, by IP and by name") {
  Pki pki;
  WhoServer s(pki.server(false));
  CHECK(s.server.tls());
  tls::set_default_client_tls(pki.client());
  for (std::string host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    auto r = request("GET", s.url("/who", host));
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->status == 200);
    CHECK(r->body == "tls=1 cert=0 node=-");
    CHECK(r->headers.get_or("Server", "") == "scn");
  }
  auto missing = request("GET", s.url("/nope"));
  REQUIRE(missing.is_ok());
  CHECK(missing->status == 404);
  tls::set_default_client_tls({});
}

TEST_CASE("tls server: a streamed answer arrives chunk by chunk over TLS") {
  Pki pki;
  WhoServer s(pki.server(false));
  tls::set_default_client_tls(pki.client());
  std::string streamed;
  int pieces = 0;
  auto r = request_stream("GET", s.url("/stream"), "", {}, [&](std::string_view data) {
    streamed += data;
    ++pieces;
    return true;
  });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->status == 200);
  CHECK(r->headers.get_or("Content-Type", "") == "text/event-stream");
  CHECK(streamed == "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  CHECK(pieces >= 2);
  tls::set_default_client_tls({});
}

TEST_CASE("tls server: client certificates, required and optional") {
  Pki pki;
  struct Case {
    bool optional;
    const char* cert;  // "" = none
    bool connects;
    const char* who;
  };
  const Case cases[] = {
      {false, "agent-x", true, "tls=1 cert=1 node=11111111-2222-4333-8444-555555555555"},
      {false, "plain-client", true, "tls=1 cert=1 node=-"},
      {false, "", false, ""},  // required: no certificate, no handshake
      {true, "", true, "tls=1 cert=0 node=-"},
      {true, "agent-x", true, "tls=1 cert=1 node=11111111-2222-4333-8444-555555555555"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.optional);
    CAPTURE(c.cert);
    WhoServer s(pki.server(true, c.optional));
    auto r = tls::https_request(pki.client(c.cert), "GET", s.url("/who"));
    if (!c.connects) {
      CHECK_FALSE(r.is_ok());
      continue;
    }
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->body == c.who);
  }
}

TEST_CASE("tls server: another CA is refused both ways, and the server keeps serving") {
  Pki pki, other;
  WhoServer s(pki.server(true, true));
  // The client does not trust the server's CA.
  auto r = tls::https_request(other.client(), "GET", s.url("/who"));
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("certificate verify failed") != std::string::npos);
  // The server does not trust the client's certificate (from another CA),
  // even where client certificates are optional.
  tls::ClientTlsConfig foreign{pki.ca, other.d + "/agent-x.crt", other.d + "/agent-x.key"};
  CHECK_FALSE(tls::https_request(foreign, "GET", s.url("/who")).is_ok());
  auto ok = tls::https_request(pki.client(), "GET", s.url("/who"));
  REQUIRE_MESSAGE(ok.is_ok(), ok.status().to_string());
  CHECK(ok->status == 200);
}

TEST_CASE("tls server: handshake timeout, garbage and plain HTTP close the connection cleanly") {
  Pki pki;
  ServerOptions o;
  o.handshake_timeout = 300ms;
  WhoServer s(pki.server(false), o);
  {  // Connects and sends nothing: closed after the handshake timeout.
    Raw raw(s.server.port());
    auto t0 = std::chrono::steady_clock::now();
    bool closed = false;
    raw.read_all(&closed);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(closed);
    CHECK(took >= 250ms);
    CHECK(took < 3s);
  }
  {  // A TLS record header and then nothing: the same.
    Raw raw(s.server.port());
    raw.send(std::string("\x16\x03\x01\x00\x50", 5));
    bool closed = false;
    raw.read_all(&closed);
    CHECK(closed);
  }
  {  // Not a ClientHello at all.
    Raw raw(s.server.port());
    raw.send(std::string("\x16\x03\x01\x00\x05garbagegarbage", 19));
    bool closed = false;
    raw.read_all(&closed);
    CHECK(closed);
  }
  {  // Plain HTTP: a plain-text 400 that says to use https, then close.
    Raw raw(s.server.port());
    raw.send("GET /who HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string answer = raw.read_all(&closed);
    CHECK(closed);
    CHECK(answer.starts_with("HTTP/1.1 400"));
    CHECK(answer.find("https://") != std::string::npos);
  }
  // Plain HTTP through the client: a clean 400, not a hang or a crash.
  auto plain = request("GET", "http://127.0.0.1:" + std::to_string(s.server.port()) + "/who");
  REQUIRE(plain.is_ok());
  CHECK(plain->status == 400);
  auto ok = tls::https_request(pki.client(), "GET", s.url("/who"));
  REQUIRE_MESSAGE(ok.is_ok(), ok.status().to_string());
  CHECK(ok->status == 200);
  for (int i = 0; i < 100 && s.server.connection_count() > 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(s.server.connection_count() == 0);
}

TEST_CASE("tls server: keep-alive over one TLS connection, also after a watched slow handler") {
  namespace net = boost::asio;
  namespace bhttp = boost::beast::http;
  Pki pki;
  WhoServer s(pki.server(false));
  s.server.route("GET", "/slow", [](const Request&, Response& res) {
    std::this_thread::sleep_for(50ms);  // long enough for the client watch to start
    res.set_content(200, "slow", "text/plain");
  });
  auto ctx = tls::make_client_context(pki.client());
  REQUIRE(ctx.is_ok());
  net::io_context ioc;
  net::ssl::stream<net::ip::tcp::socket> stream(ioc, **ctx);
  stream.next_layer().connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(s.server.port())});
  REQUIRE(tls::prepare_client_ssl(stream.native_handle(), "127.0.0.1").is_ok());
  stream.handshake(net::ssl::stream_base::client);
  boost::beast::flat_buffer buffer;
  for (const char* path : {"/who", "/slow", "/who", "/slow", "/who"}) {
    CAPTURE(path);
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, path, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream, req);
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code ec;
    bhttp::read(stream, buffer, res, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(res.result_int() == 200);
    CHECK(res.body() == (std::string_view(path) == "/slow" ? "slow" : "tls=1 cert=0 node=-"));
  }
  CHECK(s.server.connection_count() == 1);
}

TEST_CASE("tls server: unreadable TLS files fail start() with the file's name") {
  Pki pki;
  ServerOptions o;
  o.tls = {pki.d + "/missing.crt", pki.d + "/server.key", ""};
  Server server(o);
  Status st = server.start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.message().find("missing.crt") != std::string::npos);
  ServerOptions no_cert;
  no_cert.tls.client_ca_file = pki.ca;
  CHECK_FALSE(Server(no_cert).start().is_ok());
}

}  // namespace
}  // namespace scn::http
