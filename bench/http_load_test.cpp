// The load generator against a real http::Server: complete and chunked
// answers, errors counted, keep-alive connections reused.
#include "bench/http_load.h"

#include <doctest/doctest.h>

#include <atomic>

#include "common/http/server.h"

namespace scn::bench {
namespace {

TEST_CASE("run_http_load: counts answers of either framing and their errors") {
  http::Server server;
  std::atomic<int> calls{0};
  server.route("POST", "/fixed", [&](const http::Request& rq, http::Response& rs) {
    ++calls;
    rs.set_json(rq.body == "{}" ? 200 : 400, "{\"ok\":true}");
  });
  server.route("POST", "/chunked", [](const http::Request&, http::Response& rs) {
    rs.start_stream(200);
    rs.write("data: a\n\n");
    rs.write("data: b\n\n");
    rs.end();
  });
  REQUIRE(server.start().is_ok());
  auto fixed = run_http_load(server.port(), raw_post("/fixed", "{}", "k"), 4, 600, 0, 200);
  REQUIRE(fixed.is_ok());
  CHECK(fixed->ok >= 200);
  CHECK(fixed->errors == 0);
  CHECK(fixed->latencies_ms.size() == static_cast<std::size_t>(fixed->ok));
  CHECK(fixed->total >= fixed->ok);
  auto chunked = run_http_load(server.port(), raw_post("/chunked", "{}"), 2, 600, 0, 50);
  REQUIRE(chunked.is_ok());
  CHECK(chunked->ok >= 50);
  auto bad = run_http_load(server.port(), raw_post("/fixed", "[]"), 1, 600, 0, 10);
  REQUIRE(bad.is_ok());
  CHECK(bad->ok == 0);
  CHECK(bad->errors >= 10);
  CHECK(bad->first_error.rfind("HTTP/1.1 400", 0) == 0);
  server.stop();
  server.wait();
  CHECK(!run_http_load(server.port(), raw_post("/fixed", "{}"), 1, 0.2, 0).is_ok());
}

TEST_CASE("quantile") {
  std::vector<double> v{5, 1, 4, 2, 3};
  CHECK(quantile(v, 0.5) == 3);
  CHECK(quantile(v, 0.99) == 5);
  std::vector<double> empty;
  CHECK(quantile(empty, 0.5) == 0);
}

}  // namespace
}  // namespace scn::bench
