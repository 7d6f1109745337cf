// The HTTP server over real loopback sockets, driven by the client and by
// raw sockets (for what a well-behaved client never sends).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <boost/json.hpp>
#include <chrono>
#include <doctest/doctest.h>
#include <thread>

#include "common/http/client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;

std::string url(const Server& s, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + std::string(path);
}

// A plain TCP connection for malformed or slow requests.
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawSocket() { close(); }
  bool connected() const { return connected_; }
  void send(std::string_view data) { (void)!::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  // Reads until the peer closes (or 5 s pass). Sets `closed` when it closed.
  std::string read_all(bool* closed = nullptr) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = (n == 0 || errno == ECONNRESET);
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Reads until `needle` has arrived (or the peer closes / 5 s pass).
  std::string read_until(std::string_view needle) {
    std::string out;
    char buf[4096];
    while (out.find(needle) == std::string::npos) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string error_type_of(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return "<not json>";
  auto* err = v.as_object().if_contains("error");
  if (!err || !err->is_object()) return "<no error>";
  auto* type = err->as_object().if_contains("type");
  auto* message = err->as_object().if_contains("message");
  if (!type || !type->is_string() || !message || !message->is_string()) return "<bad error>";
  return std::string(type->as_string());
}

ServerOptions test_options() {
  ServerOptions o;
  o.worker_threads = 4;
  o.shutdown_timeout = 2s;
  return o;
}

TEST_CASE("GET and POST round trip with query, headers and remote address") {
  Server server(test_options());
  server.route("GET", "/hello", [](const Request& req, Response& res) {
    res.set_content(200, "hello " + std::string(req.query_param("name").value_or("?")),
                    "text/plain");
    res.set_header("X-Remote", req.remote_address);
  });
  server.route("POST", "/echo", [](const Request& req, Response& res) {
    res.set_json(201, "{\"got\":\"" + req.body + "\",\"h\":\"" + std::string(req.header("x-TEST")) + "\"}");
  });
  REQUIRE(server.start().is_ok());
  REQUIRE(server.port() > 0);

  auto r = request("GET", url(server, "/hello?name=w%20orld&x=1"));
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body == "hello w orld");
  CHECK(r->headers.get_or("content-type", "") == "text/plain");
  CHECK(r->headers.get_or("X-REMOTE", "").starts_with("127.0.0.1:"));

  auto p = request("POST", url(server, "/echo"), "abc", Headers{{"X-Test", "yes"}});
  REQUIRE(p.is_ok());
  CHECK(p->status == 201);
  CHECK(p->body == R"({"got":"abc","h":"yes"})");
  CHECK(p->headers.get_or("Content-Type", "") == "application/json");
}

TEST_CASE("keep-alive: two requests on one connection; Connection: close is honoured") {
  Server server(test_options());
  server.route("GET", "/n", [](const Request&, Response& res) { res.set_json(200, "{}"); });
  REQUIRE(server.start().is_ok());
  Client client(url(server, ""));
  for (int i = 0; i < 3; ++i) {
    auto r = client.request("GET", "/n");
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
  }
  CHECK(client.connections_opened() == 1);
  CHECK(server.connection_count() == 1);

  auto r = client.request("GET", "/n", "", Headers{{"Connection", "close"}});
  REQUIRE(r.is_ok());
  r = client.request("GET", "/n");
  REQUIRE(r.is_ok());
  CHECK(client.connections_opened() == 2);
}

TEST_CASE("errors: 404, 405, 413, 431, 400, handler exception 500, all with JSON bodies") {
  ServerOptions o = test_options();
  o.max_body_bytes = 1024;
  o.max_header_bytes = 2048;
  Server server(o);
  server.route("POST", "/post", [](const Request& req, Response& res) {
    res.set_json(200, "{\"n\":" + std::to_string(req.body.size()) + "}");
  });
  server.route("GET", "/throw", [](const Request&, Response&) { throw std::runtime_error("boom"); });
  server.route_prefix("GET", "/static/", [](const Request& req, Response& res) {
    res.set_content(200, req.path, "text/plain");
  });
  REQUIRE(server.start().is_ok());

  auto r = request("GET", url(server, "/nope"));
  REQUIRE(r.is_ok());
  CHECK(r->status == 404);
  CHECK(error_type_of(r->body) == "not_found_error");

  r = request("GET", url(server, "/post"));
  REQUIRE(r.is_ok());
  CHECK(r->status == 405);
  CHECK(r->headers.get_or("Allow", "") == "POST");
  CHECK(r->body.find("POST") != std::string::npos);
  CHECK(error_type_of(r->body) == "invalid_request_error");

  r = request("POST", url(server, "/post"), std::string(1024, 'x'));
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body == "{\"n\":1024}");

  r = request("POST", url(server, "/post"), std::string(4096, 'x'));
  REQUIRE(r.is_ok());
  CHECK(r->status == 413);
  CHECK(error_type_of(r->body) == "invalid_request_error");
  CHECK(r->headers.get_or("Connection", "") == "close");

  // A chunked body over the limit (no Content-Length to reject up front).
  {
    RawSocket s(server.port());
    s.send("POST /post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) s.send("200\r\n" + std::string(512, 'y') + "\r\n");
    bool closed = false;
    std::string got = s.read_all(&closed);
    CHECK(got.starts_with("HTTP/1.1 413"));
    CHECK(closed);
  }

  r = request("GET", url(server, "/static/a/b"), "", Headers{{"X-Big", std::string(4096, 'h')}});
  REQUIRE(r.is_ok());
  CHECK(r->status == 431);
  CHECK(error_type_of(r->body) == "invalid_request_error");

  r = request("GET", url(server, "/static/a/b"));
  REQUIRE(r.is_ok());
  CHECK(r->body == "/static/a/b");

  r = request("GET", url(server, "/throw"));
  REQUIRE(r.is_ok());
  CHECK(r->status == 500);
  CHECK(error_type_of(r->body) == "server_error");

  const char* malformed[] = {
      "this is not http\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET /x HTTP/1.1\r\nBad Header Line\r\n\r\n",
      "GET /x HTTP/9.9\r\n\r\n",
  };
  for (const char* m : malformed) {
    CAPTURE(m);
    RawSocket s(server.port());
    REQUIRE(s.connected());
    s.send(m);
    bool closed = false;
    std::string got = s.read_all(&closed);
    CHECK(got.starts_with("HTTP/1.1 400"));
    CHECK(got.find("\"invalid_request_error\"") != std::string::npos);
    CHECK(closed);
  }
}

TEST_CASE("a client that never completes its header is timed out and closed") {
  ServerOptions o = test_options();
  o.header_timeout = 300ms;
  Server server(o);
  server.route("GET", "/", [](const Request&, Response& res) { res.set_json(200, "{}"); });
  REQUIRE(server.start().is_ok());

  auto t0 = std::chrono::steady_clock::now();
  RawSocket s(server.port());
  s.send("GET / HTTP/1.1\r\nHost: x\r\n");  // no blank line, ever
  bool closed = false;
  std::string got = s.read_all(&closed);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(closed);
  CHECK(got.empty());
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 3s);

  // A connection that sends nothing is closed after header_timeout as well.
  RawSocket idle(server.port());
  t0 = std::chrono::steady_clock::now();
  got = idle.read_all(&closed);
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("Expect: 100-continue and pipelined requests") {
  Server server(test_options());
  server.route("POST", "/len", [](const Request& req, Response& res) {
    res.set_content(200, std::to_string(req.body.size()), "text/plain");
  });
  REQUIRE(server.start().is_ok());

  RawSocket s(server.port());
  s.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  CHECK(s.read_until("\r\n\r\n").starts_with("HTTP/1.1 100 Continue"));
  s.send("hello");
  CHECK(s.read_until("\r\n\r\n5").find("200 OK") != std::string::npos);

  RawSocket p(server.port());
  p.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
         "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  bool closed = false;
  std::string got = p.read_all(&closed);
  auto first = got.find("\r\n\r\n2");
  auto second = got.find("\r\n\r\n3");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second);
  CHECK(closed);
}

TEST_CASE("streaming: chunks arrive in order, each before the next is written") {
  Server server(test_options());
  std::atomic<int> received{0};
  std::atomic<bool> waited_ok{true};
  server.route("POST", "/stream", [&](const Request&, Response& res) {
    REQUIRE(res.start_stream(200, Headers{{"Content-Type", "text/event-stream"}}));
    for (int i = 0; i < 5; ++i) {
      if (!res.write("data: " + std::to_string(i) + "\n\n")) waited_ok = false;
      // The next chunk only after the client has seen this one.
      auto until = std::chrono::steady_clock::now() + 5s;
      while (received.load() <= i && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(1ms);
      if (received.load() <= i) waited_ok = false;
    }
    res.end();
  });
  REQUIRE(server.start().is_ok());

  std::vector<std::string> events;
  SseDecoder sse;
  Client client(url(server, ""));
  auto r = client.request_stream("POST", "/stream", "{}", {}, [&](std::string_view data) {
    sse.feed(data, [&](std::string_view ev) {
      events.emplace_back(ev);
      received = static_cast<int>(events.size());
    });
    return true;
  });
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->headers.get_or("content-type", "") == "text/event-stream");
  CHECK(waited_ok.load());
  CHECK(events == std::vector<std::string>{"0", "1", "2", "3", "4"});
  // The connection stays usable after a streamed answer.
  received = 0;
  events.clear();
  r = client.request_stream("POST", "/stream", "{}", {}, [&](std::string_view data) {
    sse.feed(data, [&](std::string_view ev) {
      events.emplace_back(ev);
      received = static_cast<int>(events.size());
    });
    return true;
  });
  REQUIRE(r.is_ok());
  CHECK(events.size() == 5);
  CHECK(client.connections_opened() == 1);
}

TEST_CASE("the handler notices a client that went away") {
  Server server(test_options());
  std::atomic<bool> write_failed{false}, gone_seen{false}, done_stream{false}, done_wait{false};
  server.route("GET", "/stream", [&](const Request&, Response& res) {
    res.start_stream(200, Headers{{"Content-Type", "text/plain"}});
    auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      if (!res.write("tick\n")) {
        write_failed = true;
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    done_stream = true;
  });
  server.route("GET", "/compute", [&](const Request&, Response& res) {
    auto until = std::chrono::steady_clock::now() + 5s;
    auto flag = res.gone_flag();
    while (std::chrono::steady_clock::now() < until && !res.client_gone())
      std::this_thread::sleep_for(2ms);
    gone_seen = res.client_gone() && flag->load();
    done_wait = true;
    res.set_json(200, "{}");
  });
  REQUIRE(server.start().is_ok());

  int chunks = 0;
  auto r = request_stream("GET", url(server, "/stream"), "", {}, [&](std::string_view) {
    return ++chunks < 3;  // stop early: closes the connection
  });
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);

  {
    RawSocket s(server.port());
    s.send("GET /compute HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(50ms);
  }  // closed before any answer

  auto until = std::chrono::steady_clock::now() + 6s;
  while ((!done_stream || !done_wait) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  CHECK(write_failed.load());
  CHECK(gone_seen.load());
}

TEST_CASE("graceful stop lets an in-flight request finish and refuses new ones") {
  ServerOptions o = test_options();
  Server server(o);
  std::atomic<bool> started{false};
  server.route("GET", "/slow", [&](const Request&, Response& res) {
    started = true;
    std::this_thread::sleep_for(300ms);
    res.set_json(200, "{\"slow\":true}");
  });
  REQUIRE(server.start().is_ok());
  int port = server.port();

  // An idle keep-alive connection does not hold the stop back.
  Client idle(url(server, ""));
  REQUIRE(idle.request("GET", "/missing").is_ok());

  Result<ClientResponse> slow = Status::internal("not run");
  std::thread t([&] { slow = request("GET", url(server, "/slow")); });
  while (!started) std::this_thread::sleep_for(1ms);
  auto t0 = std::chrono::steady_clock::now();
  server.stop();
  server.wait();
  t.join();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  REQUIRE(slow.is_ok());
  CHECK(slow->status == 200);
  CHECK(slow->body == "{\"slow\":true}");
  auto after = request("GET", "http://127.0.0.1:" + std::to_string(port) + "/slow", "", {}, 500ms);
  CHECK_FALSE(after.is_ok());
}

TEST_CASE("stop deadline: a handler that runs on sees its client gone") {
  ServerOptions o = test_options();
  o.shutdown_timeout = 200ms;
  Server server(o);
  std::atomic<bool> started{false}, gone{false};
  server.route("GET", "/forever", [&](const Request&, Response& res) {
    started = true;
    auto until = std::chrono::steady_clock::now() + 5s;
    while (!res.client_gone() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(2ms);
    gone = res.client_gone();
  });
  REQUIRE(server.start().is_ok());
  std::thread t([&] { (void)request("GET", url(server, "/forever")); });
  while (!started) std::this_thread::sleep_for(1ms);
  auto t0 = std::chrono::steady_clock::now();
  server.stop();
  server.wait();
  t.join();
  CHECK(gone.load());
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("body, write and keep-alive idle timeouts") {
  ServerOptions o = test_options();
  o.body_timeout = 300ms;
  o.write_timeout = 300ms;
  o.idle_timeout = 200ms;
  Server server(o);
  std::atomic<bool> write_failed{false};
  std::atomic<std::size_t> written{0};
  server.route("POST", "/len", [](const Request& req, Response& res) {
    res.set_content(200, std::to_string(req.body.size()), "text/plain");
  });
  server.route("GET", "/flood", [&](const Request&, Response& res) {
    res.start_stream(200);
    const std::string block(256 * 1024, 'z');
    auto until = std::chrono::steady_clock::now() + 8s;
    while (std::chrono::steady_clock::now() < until) {
      if (!res.write(block)) {
        write_failed = true;
        return;
      }
      written += block.size();
    }
  });
  REQUIRE(server.start().is_ok());

  {  // A body that never completes.
    RawSocket s(server.port());
    s.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    auto t0 = std::chrono::steady_clock::now();
    bool closed = false;
    CHECK(s.read_all(&closed).empty());
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  }
  {  // A client that stops reading: the handler's write fails after write_timeout.
    RawSocket s(server.port());
    s.send("GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
    auto until = std::chrono::steady_clock::now() + 9s;
    while (!write_failed && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    CHECK(write_failed.load());
    CHECK(written.load() > 0);
  }
  {  // An idle keep-alive connection is closed; the client reconnects.
    Client client(url(server, ""));
    REQUIRE(client.request("POST", "/len", "abc").is_ok());
    auto until = std::chrono::steady_clock::now() + 3s;
    while (server.connection_count() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(5ms);
    CHECK(server.connection_count() == 0);
    auto r = client.request("POST", "/len", "abcd");
    REQUIRE(r.is_ok());
    CHECK(r->body == "4");
    CHECK(client.connections_opened() == 2);
  }
}

TEST_CASE("stop_on_signals: SIGTERM stops the server gracefully") {
  Server server(test_options());
  server.route("GET", "/", [](const Request&, Response& res) { res.set_json(200, "{}"); });
  REQUIRE(server.start().is_ok());
  std::atomic<int> seen{0};
  server.stop_on_signals([&](int signo) { seen = signo; });
  REQUIRE(request("GET", url(server, "/")).is_ok());
  std::raise(SIGTERM);
  server.wait();
  CHECK(seen.load() == SIGTERM);
}

TEST_CASE("start fails cleanly on a taken port") {
  Server a(test_options());
  REQUIRE(a.start().is_ok());
  ServerOptions o = test_options();
  o.port = a.port();
  Server b(o);
  Status st = b.start();
  CHECK_FALSE(st.is_ok());
  CHECK(st.message().find("cannot listen") != std::string::npos);
}

TEST_CASE("a detached Response records what a handler streams") {
  Response res;
  CHECK_FALSE(res.write("early"));
  CHECK(res.start_stream(200, Headers{{"Content-Type", "text/event-stream"}}));
  CHECK_FALSE(res.start_stream(200));
  CHECK(res.write("a"));
  CHECK(res.write("b"));
  res.end();
  CHECK_FALSE(res.write("late"));
  CHECK(res.chunks() == std::vector<std::string>{"a", "b"});
  CHECK(res.body() == "ab");
  CHECK(res.headers().get_or("content-type", "") == "text/event-stream");

  Response gone;
  gone.mark_client_gone();
  CHECK(gone.client_gone());
  CHECK_FALSE(gone.start_stream(200));

  Response err;
  error_response(err, Status::not_found("model 'x' not found"));
  CHECK(err.status() == 404);
  CHECK(err.body() == R"({"error":{"type":"not_found_error","message":"model 'x' not found"}})");
}

TEST_CASE("Headers are case-insensitive and keep order") {
  Headers h{{"A", "1"}, {"b", "2"}};
  h.add("a", "3");
  CHECK(h.get("a") == "1");
  h.set("A", "4");
  CHECK(h.size() == 2);
  CHECK(h.get("a") == "4");
  h.remove("B");
  CHECK_FALSE(h.has("b"));
  CHECK(iequals("Content-Type", "content-type"));
  CHECK_FALSE(iequals("Content-Type", "content-typ"));
}

TEST_CASE("SseDecoder splits events across arbitrary byte boundaries") {
  const std::string stream =
      ": comment\n\ndata: {\"a\":1}\n\ndata:x\r\ndata: y\r\n\r\nevent: e\nid: 3\n\ndata: [DONE]\n\n";
  for (std::size_t step : {1u, 2u, 3u, 7u, 1000u}) {
    CAPTURE(step);
    SseDecoder d;
    std::vector<std::string> got;
    for (std::size_t i = 0; i < stream.size(); i += step)
      d.feed(std::string_view(stream).substr(i, step), [&](std::string_view e) { got.emplace_back(e); });
    CHECK(got == std::vector<std::string>{"{\"a\":1}", "x\ny", "[DONE]"});
  }
}

TEST_CASE("client errors: bad URL, refused connection") {
  auto r = request("GET", "not a url");
  CHECK(r.status().code() == Code::kInvalidArgument);
  r = request("GET", "ftp://example.org/");  // https:// is served by common/tls (issue 9)
  CHECK(r.status().code() == Code::kInvalidArgument);
  Server s(test_options());
  REQUIRE(s.start().is_ok());
  int port = s.port();
  s.stop();
  s.wait();
  r = request("GET", "http://127.0.0.1:" + std::to_string(port) + "/", "", {}, 1s);
  CHECK(r.status().code() == Code::kUnavailable);
}

}  // namespace
}  // namespace scn::http
