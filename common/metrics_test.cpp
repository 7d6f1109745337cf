#include "common/metrics.h"

#include <doctest/doctest.h>
#include <thread>

#include "common/log.h"

namespace scn::metrics {
namespace {

TEST_CASE("render produces the Prometheus text format") {
  Registry r;
  r.counter("scn_requests_total", "Requests served.", {{"path", "/v1/models"}, {"code", "200"}}).inc();
  r.counter("scn_requests_total", "Requests served.", {{"code", "200"}, {"path", "/v1/models"}}).inc(2);
  r.counter("scn_requests_total", "", {{"path", "a\"b\\c\nd"}, {"code", "404"}}).inc(0.5);
  r.gauge("scn_queue_length", "Waiting requests.\nSecond line \\ here.").set(3);
  auto& h = r.histogram("scn_latency_seconds", "Latency.", {1, 0.1, 0.5});
  h.observe(0.05);
  h.observe(0.3);
  h.observe(0.3);
  h.observe(7);
  r.gauge_callback("scn_up", "Always one.", [] { return 1.0; });

  const std::string expected =
      "# HELP scn_requests_total Requests served.\n"
      "# TYPE scn_requests_total counter\n"
      "scn_requests_total{code=\"200\",path=\"/v1/models\"} 3\n"
      "scn_requests_total{code=\"404\",path=\"a\\\"b\\\\c\\nd\"} 0.5\n"
      "# HELP scn_queue_length Waiting requests.\\nSecond line \\\\ here.\n"
      "# TYPE scn_queue_length gauge\n"
      "scn_queue_length 3\n"
      "# HELP scn_latency_seconds Latency.\n"
      "# TYPE scn_latency_seconds histogram\n"
      "scn_latency_seconds_bucket{le=\"0.1\"} 1\n"
      "scn_latency_seconds_bucket{le=\"0.5\"} 3\n"
      "scn_latency_seconds_bucket{le=\"1\"} 3\n"
      "scn_latency_seconds_bucket{le=\"+Inf\"} 4\n"
      "scn_latency_seconds_sum 7.65\n"
      "scn_latency_seconds_count 4\n"
      "# HELP scn_up Always one.\n"
      "# TYPE scn_up gauge\n"
      "scn_up 1\n";
  CHECK(r.render() == expected);
}

TEST_CASE("histogram labels come before le; counters never go down") {
  Registry r;
  auto& h = r.histogram("t_seconds", "t", {1}, {{"model", "m"}});
  h.observe(2);
  auto& c = r.counter("c_total", "c");
  c.inc(-5);
  CHECK(c.value() == 0);
  std::string out = r.render();
  CHECK(out.find("t_seconds_bucket{model=\"m\",le=\"1\"} 0\n") != std::string::npos);
  CHECK(out.find("t_seconds_bucket{model=\"m\",le=\"+Inf\"} 1\n") != std::string::npos);
  CHECK(out.find("t_seconds_sum{model=\"m\"} 2\n") != std::string::npos);
}

TEST_CASE("invalid names and kind conflicts are rejected, not rendered") {
  common::set_log_sink([](std::string_view) {});
  Registry r;
  r.counter("bad name", "x").inc();
  r.counter("ok_total", "x", {{"bad-label", "v"}}).inc();
  r.counter("dup", "x").inc();
  r.gauge("dup", "x").set(5);  // same name, other kind
  r.histogram("h", "x", {1}, {{"le", "1"}}).observe(1);
  common::set_log_sink({});
  std::string out = r.render();
  CHECK(out.find("bad") == std::string::npos);
  CHECK(out.find("# TYPE dup counter\ndup 1\n") != std::string::npos);
  CHECK(out.find("# TYPE h") == std::string::npos);
}

TEST_CASE("format_value and concurrent increments") {
  CHECK(format_value(1) == "1");
  CHECK(format_value(0.1) == "0.1");
  CHECK(format_value(1e21) == "1e+21");
  CHECK(format_value(1.0 / 0.0) == "+Inf");
  CHECK(format_value(-1.0 / 0.0) == "-Inf");
  CHECK(format_value(0.0 / 0.0) == "NaN");

  Registry r;
  auto& c = r.counter("n_total", "n");
  auto& h = r.histogram("h", "h", exponential_buckets(1, 2, 4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(i % 10);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(c.value() == 40000);
  CHECK(h.snapshot().count == 40000);
  CHECK(exponential_buckets(1, 2, 4) == std::vector<double>{1, 2, 4, 8});
  CHECK(linear_buckets(0, 5, 3) == std::vector<double>{0, 5, 10});
}

}  // namespace
}  // namespace scn::metrics

TEST_CASE("Registry: counter_callback renders as a counter read at render time") {
  scn::metrics::Registry r;
  double total = 5;
  r.counter_callback("scn_engine_tokens_total", "Tokens.", [&] { return total; });
  CHECK(r.render() ==
        "# HELP scn_engine_tokens_total Tokens.\n"
        "# TYPE scn_engine_tokens_total counter\n"
        "scn_engine_tokens_total 5\n");
  total = 7;
  CHECK(r.render().find("scn_engine_tokens_total 7\n") != std::string::npos);
  // A name already used as a gauge is rejected (not rendered twice).
  r.gauge("scn_g", "G.");
  r.counter_callback("scn_g", "G.", [] { return 1.0; });
  CHECK(r.render().find("# TYPE scn_g counter") == std::string::npos);
}
