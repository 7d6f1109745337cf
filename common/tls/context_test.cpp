// Real TLS over loopback sockets: a tiny Beast HTTP server on an Asio ssl
// stream, with contexts from common/tls/context.h and certificates from
// common/tls/pki.h.
#include "common/tls/context.h"

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include "common/tls/https_client.h"
#include "common/tls/pki.h"
#include "tests/testing.h"

namespace scn::tls {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

constexpr const char* kNodeX = "11111111-2222-4333-8444-555555555555";
constexpr const char* kNodeY = "99999999-8888-4777-8666-555555555555";

// Serves one connection on 127.0.0.1: answers 200 "hello", or — when the
// context asks for client certificates — checks that the certificate's node
// equals the X-Node-Id header (the node a secret authenticated): 403 if not.
class OneShotServer {
 public:
  OneShotServer(SslContextPtr ctx, bool mtls) : ctx_(std::move(ctx)), mtls_(mtls) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() { join(); }
  void join() { if (thread_.joinable()) thread_.join(); }
  int port() const { return port_; }
  const std::string& error() { join(); return error_; }

 private:
  void serve() {
    boost::system::error_code ec;
    tcp::socket socket(ioc_);
    acceptor_.accept(socket, ec);
    if (ec) { error_ = ec.message(); return; }
    ssl::stream<tcp::socket> stream(std::move(socket), *ctx_);
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) { error_ = handshake_error(ec, stream.native_handle(), "client"); return; }
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(stream, buffer, req, ec);
    if (ec) { error_ = ec.message(); return; }
    http::response<http::string_body> res{http::status::ok, 11};
    res.body() = "hello";
    if (mtls_) {
      Status st = check_node_binding(peer_node_id(stream.native_handle()),
                                     std::string(req["X-Node-Id"]));
      if (!st.is_ok()) {
        res.result(st.http_status());
        res.body() = st.message();
      }
    }
    res.prepare_payload();
    http::write(stream, res, ec);
    stream.shutdown(ec);
  }

  SslContextPtr ctx_;
  bool mtls_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  int port_ = 0;
  std::thread thread_;
  std::string error_;
};

struct Answer { int status; std::string body; };

Result<Answer> tls_get(int port, const SslContextPtr& ctx, const std::string& host,
                       const std::string& node_id = "") {
  net::io_context ioc;
  ssl::stream<tcp::socket> stream(ioc, *ctx);
  boost::system::error_code ec;
  stream.next_layer().connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return Status::unavailable(ec.message());
  SCN_RETURN_IF_ERROR(prepare_client_ssl(stream.native_handle(), host));
  stream.handshake(ssl::stream_base::client, ec);
  std::string peer = host + ":" + std::to_string(port);
  if (ec) return Status::unavailable(handshake_error(ec, stream.native_handle(), peer));
  http::request<http::string_body> req{http::verb::get, "/", 11};
  req.set(http::field::host, host);
  if (!node_id.empty()) req.set("X-Node-Id", node_id);
  http::write(stream, req, ec);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buffer, res, ec);
  if (ec) return Status::unavailable(handshake_error(ec, stream.native_handle(), peer));
  return Answer{static_cast<int>(res.result_int()), res.body()};
}

struct Pki {
  testing::TempDir dir;
  std::string d = dir.path().string();
  std::string ca = d + "/ca.crt";
  Pki() {
    REQUIRE(init_ca({.dir = d}).is_ok());
    REQUIRE(issue_cert({.dir = d, .name = "server", .sans = {"DNS:localhost,IP:127.0.0.1"}}).is_ok());
    REQUIRE(issue_cert({.dir = d, .name = "agent-x", .client = true, .node_id = kNodeX}).is_ok());
    REQUIRE(issue_cert({.dir = d, .name = "plain-client", .client = true}).is_ok());
  }
  ServerTlsConfig server(bool mtls) const {
    return {d + "/server.crt", d + "/server.key", mtls ? ca : ""};
  }
  ClientTlsConfig client(const std::string& name = "") const {
    if (name.empty()) return {ca, "", ""};
    return {ca, d + "/" + name + ".crt", d + "/" + name + ".key"};
  }
};

SslContextPtr must(Result<SslContextPtr> r) {
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

TEST_CASE("tls: a server and a client complete a round trip (by IP and by name)") {
  Pki pki;
  for (std::string host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    OneShotServer server(must(make_server_context(pki.server(false))), false);
    auto answer = tls_get(server.port(), must(make_client_context(pki.client())), host);
    REQUIRE_MESSAGE(answer.is_ok(), answer.status().to_string());
    CHECK(answer->status == 200);
    CHECK(answer->body == "hello");
    CHECK(server.error().empty());
  }
}

TEST_CASE("tls: a client trusting another CA fails the handshake with a clear message") {
  Pki pki, other;
  OneShotServer server(must(make_server_context(pki.server(false))), false);
  auto answer = tls_get(server.port(), must(make_client_context(other.client())), "127.0.0.1");
  REQUIRE_FALSE(answer.is_ok());
  const std::string& m = answer.status().message();
  CHECK(m.find("TLS handshake with 127.0.0.1") != std::string::npos);
  CHECK(m.find("unable to get local issuer certificate") != std::string::npos);
  CHECK(m.find("--ca") != std::string::npos);
  CHECK_FALSE(server.error().empty());
}

TEST_CASE("tls: a host name the certificate does not name is refused") {
  Pki pki;
  OneShotServer server(must(make_server_context(pki.server(false))), false);
  auto answer = tls_get(server.port(), must(make_client_context(pki.client())), "example.com");
  REQUIRE_FALSE(answer.is_ok());
  CHECK(answer.status().message().find("hostname mismatch") != std::string::npos);
}

TEST_CASE("tls: mTLS refuses a client without a certificate") {
  Pki pki;
  OneShotServer server(must(make_server_context(pki.server(true))), true);
  auto answer = tls_get(server.port(), must(make_client_context(pki.client())), "127.0.0.1", kNodeX);
  CHECK_FALSE(answer.is_ok());
  CHECK(server.error().find("TLS handshake with client failed") != std::string::npos);
}

TEST_CASE("tls: mTLS binds the client certificate to its node") {
  Pki pki;
  struct Case { const char* cert; const char* node; int status; };
  Case cases[] = {
      {"agent-x", kNodeX, 200},       // node X's certificate with node X's secret
      {"agent-x", kNodeY, 403},       // node X's certificate with node Y's secret
      {"plain-client", kNodeX, 403},  // a certificate bound to no node
  };
  for (const auto& c : cases) {
    CAPTURE(c.cert);
    CAPTURE(c.node);
    OneShotServer server(must(make_server_context(pki.server(true))), true);
    auto answer = tls_get(server.port(), must(make_client_context(pki.client(c.cert))), "localhost", c.node);
    REQUIRE_MESSAGE(answer.is_ok(), answer.status().to_string());
    CHECK(answer->status == c.status);
  }
}

TEST_CASE("tls: configuration errors name the file") {
  Pki pki;
  auto missing = make_server_context({"/nonexistent/server.crt", pki.d + "/server.key", ""});
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().message().find("/nonexistent/server.crt") != std::string::npos);
  // A key that does not belong to the certificate.
  auto mismatch = make_server_context({pki.d + "/server.crt", pki.d + "/agent-x.key", ""});
  REQUIRE_FALSE(mismatch.is_ok());
  CHECK_MESSAGE(mismatch.status().message().find("does not match") != std::string::npos,
                mismatch.status().message());
  // A CA file that is not PEM.
  auto bad_ca = make_client_context({pki.d + "/server.key", "", ""});
  CHECK_FALSE(bad_ca.is_ok());
  CHECK_FALSE(ServerTlsConfig{"a.crt", "", ""}.validate().is_ok());
  CHECK_FALSE(ServerTlsConfig{"", "", "ca.crt"}.validate().is_ok());
  CHECK_FALSE(ClientTlsConfig{"", "c.crt", ""}.validate().is_ok());
}

TEST_CASE("tls: https_request round trip, wrong CA, mTLS node binding") {
  Pki pki, other;
  {
    OneShotServer server(must(make_server_context(pki.server(false))), false);
    auto r = https_request(pki.client(), "GET",
                           "https://localhost:" + std::to_string(server.port()) + "/x");
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->status == 200);
    CHECK(r->body == "hello");
  }
  {
    OneShotServer server(must(make_server_context(pki.server(false))), false);
    auto r = https_request(other.client(), "GET",
                           "https://127.0.0.1:" + std::to_string(server.port()) + "/");
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kUnavailable);
    CHECK(r.status().message().find("certificate verify failed") != std::string::npos);
  }
  {
    OneShotServer server(must(make_server_context(pki.server(true))), true);
    auto r = https_request(pki.client("agent-x"), "GET",
                           "https://127.0.0.1:" + std::to_string(server.port()) + "/", "",
                           {{"X-Node-Id", kNodeY}});
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->status == 403);
    CHECK(r->body.find("not to node") != std::string::npos);
  }
  CHECK(https_request(pki.client(), "GET", "http://127.0.0.1:1/").status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("tls: common/http/client takes https:// URLs with the default TLS configuration") {
  Pki pki;
  set_default_client_tls(pki.client());
  {
    OneShotServer server(must(make_server_context(pki.server(false))), false);
    auto r = scn::http::request("GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/");
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->status == 200);
    CHECK(r->body == "hello");
  }
  {
    OneShotServer server(must(make_server_context(pki.server(false))), false);
    scn::http::ConnectionPool pool;
    std::string streamed;
    int head = 0;
    auto r = pool.request_stream(
        "GET", "https://localhost:" + std::to_string(server.port()) + "/", "", {},
        [&](int status, const scn::http::Headers&) { head = status; return true; },
        [&](std::string_view data) { streamed += data; return true; });
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(head == 200);
    CHECK(streamed == "hello");
  }
  set_default_client_tls({});
}

TEST_CASE("tls: https_request without a client certificate against mTLS says why") {
  Pki pki;
  OneShotServer server(must(make_server_context(pki.server(true))), true);
  auto r = https_request(pki.client(), "GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/");
  REQUIRE_FALSE(r.is_ok());
  CHECK_MESSAGE(r.status().message().find("client certificate") != std::string::npos,
                r.status().message());
}

}  // namespace
}  // namespace scn::tls
