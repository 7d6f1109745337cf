// Server::route_async: the AsyncReply contract (answer later from another
// thread, hand over to the worker pool, one answer only, 500 when none).
#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <thread>

#include "common/http/client.h"
#include "common/http/server.h"

namespace scn::http {
namespace {

using namespace std::chrono_literals;

std::string base(const Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

TEST_CASE("async routes answer now, later from another thread, or on a worker") {
  ServerOptions o;
  o.worker_threads = 1;
  o.shutdown_timeout = 2s;
  Server server(o);
  std::atomic<bool> ran_on_io{false};
  std::vector<std::thread> later;
  server.route("GET", "/id", [](const Request&, Response& res) {
    res.set_json(200, "{}");
  });
  server.route_async("GET", "/now", [&](const Request& req, AsyncReply reply) {
    Response res;
    res.set_json(200, R"({"q":")" + std::string(req.query_param("q").value_or("")) + R"("})");
    res.set_header("X-Kind", "now");
    reply.complete(res);
    Response second;  // only the first answer counts
    second.set_json(500, "{}");
    reply.complete(second);
  });
  server.route_async("GET", "/later", [&](const Request&, AsyncReply reply) {
    later.emplace_back([reply]() mutable {
      std::this_thread::sleep_for(50ms);
      Response res;
      res.set_json(201, R"({"later":true})");
      reply.complete(res);
    });
  });
  server.route_async("GET", "/worker", [&](const Request&, AsyncReply reply) {
    reply.run_on_worker([](const Request& req, Response& res) {
      res.start_stream(200, {{"Content-Type", "text/plain"}});
      res.write("a");
      res.write(req.path);
    });
  });
  server.route_async("GET", "/dropped", [](const Request&, AsyncReply) {});
  server.route_async("GET", "/throws", [](const Request&, AsyncReply) { throw std::runtime_error("boom"); });
  server.route_async("GET", "/streamed", [](const Request&, AsyncReply reply) {
    Response res;  // detached: streaming into it is not an answer
    res.start_stream(200);
    reply.complete(res);
  });
  REQUIRE(server.start().is_ok());

  Client c(base(server));  // one keep-alive connection through every case
  auto r = c.request("GET", "/now?q=x");
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body == R"({"q":"x"})");
  CHECK(r->headers.get_or("X-Kind", "") == "now");

  r = c.request("GET", "/later");
  REQUIRE(r.is_ok());
  CHECK(r->status == 201);
  CHECK(r->body == R"({"later":true})");

  r = c.request("GET", "/worker");
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body == "a/worker");

  for (const char* path : {"/dropped", "/throws", "/streamed"}) {
    CAPTURE(path);
    r = c.request("GET", path);
    REQUIRE(r.is_ok());
    CHECK(r->status == 500);
    CHECK(r->body.find("\"error\"") != std::string::npos);
  }
  r = c.request("GET", "/id");  // the connection still serves
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(c.connections_opened() == 1);
  for (auto& t : later) t.join();
  server.stop();
  server.wait();
}

TEST_CASE("a stopping server cancels async work whose client it closes") {
  ServerOptions o;
  o.worker_threads = 1;
  o.shutdown_timeout = 300ms;
  Server server(o);
  std::atomic<bool> cancelled{false};
  server.route_async("GET", "/forever", [&](const Request&, AsyncReply reply) {
    reply.on_client_gone([&cancelled, reply]() mutable {
      cancelled = true;
      Response res;
      res.set_json(503, "{}");
      reply.complete(res);
    });
  });
  REQUIRE(server.start().is_ok());
  std::thread client([&] { (void)request("GET", base(server) + "/forever", {}, {}, 5s); });
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  server.wait();
  client.join();
  CHECK(cancelled.load());
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

}  // namespace
}  // namespace scn::http
