// ServiceLoad: requests in flight and the recent time to first token per
// service, as published for the autoscaler in `{prefix}load:{service_id}`.
#include "broker/gateway/service_load.h"

#include <doctest/doctest.h>

#include <thread>

#include "common/json.h"
#include "common/redis/redis.h"
#include "common/redis/test_redis.h"

namespace scn::broker {
namespace {

using namespace std::chrono_literals;

struct Published {
  bool present = false;
  common::JsonObject o;
};

Published read_field(redis::RedisClient& r, const std::string& key, const std::string& field) {
  auto all = r.hgetall(key);
  REQUIRE(all.is_ok());
  for (const auto& [f, text] : *all) {
    if (f != field) continue;
    auto o = common::parse_json_object(text);
    REQUIRE(o.is_ok());
    return {true, std::move(o).value()};
  }
  return {};
}

TEST_CASE("ServiceLoad: TTFT percentiles are nearest rank over the window") {
  auto url = redis::testing::redis_url_for_tests();
  if (!url) return;
  auto redis = redis::RedisClient::connect(*url);
  REQUIRE(redis.is_ok());
  ServiceLoad load(**redis, redis::testing::unique_key_prefix(), "b1");
  CHECK(load.ttft("s").count == 0);
  struct Case {
    std::vector<double> samples;
    double p50, p90;
  };
  const Case cases[] = {
      {{42}, 42, 42},
      {{10, 20}, 10, 20},
      {{5, 1, 4, 2, 3}, 3, 5},
      {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 9},
      {{100, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string svc = "svc-" + std::to_string(n++);
    for (double ms : c.samples) load.observe_ttft(svc, ms);
    load.observe_ttft(svc, -1);  // ignored
    auto f = load.ttft(svc);
    CAPTURE(svc);
    CHECK(f.count == static_cast<int>(c.samples.size()));
    CHECK(f.p50_ms == doctest::Approx(c.p50));
    CHECK(f.p90_ms == doctest::Approx(c.p90));
  }
}

TEST_CASE("ServiceLoad: publish writes in-flight and TTFT, drops TTFT after the window, then forgets") {
  auto url = redis::testing::redis_url_for_tests();
  if (!url) return;
  auto connected = redis::RedisClient::connect(*url);
  REQUIRE(connected.is_ok());
  redis::RedisClient& r = **connected;
  const std::string prefix = redis::testing::unique_key_prefix();
  const std::string key = prefix + "load:svc";
  ServiceLoad load(r, prefix, "b1");
  load.set_ttft_window(300ms);

  load.begin("svc");
  load.observe_ttft("svc", 120);
  load.observe_ttft("svc", 80);
  REQUIRE(load.publish().is_ok());
  Published p = read_field(r, key, "b1");
  REQUIRE(p.present);
  CHECK(p.o.at("in_flight").as_int64() == 1);
  CHECK(p.o.at("last_request_ms").as_int64() > 0);
  CHECK(p.o.at("ttft_count").as_int64() == 2);
  CHECK(p.o.at("ttft_p50_ms").as_double() == 80);
  CHECK(p.o.at("ttft_p90_ms").as_double() == 120);
  auto ttl = r.command({"PTTL", key});
  REQUIRE(ttl.is_ok());
  CHECK(ttl->integer > 0);
  CHECK(ttl->integer <= 10000);

  // Nothing in flight, but samples in the window: still published with TTFT.
  load.end("svc");
  REQUIRE(load.publish().is_ok());
  REQUIRE(load.publish().is_ok());
  p = read_field(r, key, "b1");
  CHECK(p.o.at("in_flight").as_int64() == 0);
  CHECK(p.o.contains("ttft_p90_ms"));

  // The samples age out: written once more without TTFT, then forgotten.
  std::this_thread::sleep_for(350ms);
  REQUIRE(load.publish().is_ok());
  p = read_field(r, key, "b1");
  REQUIRE(p.present);
  CHECK_FALSE(p.o.contains("ttft_p90_ms"));
  CHECK_FALSE(p.o.contains("ttft_count"));
  REQUIRE(r.del({key}).is_ok());
  REQUIRE(load.publish().is_ok());
  CHECK_FALSE(read_field(r, key, "b1").present);
  CHECK(load.ttft("svc").count == 0);
}

TEST_CASE("ServiceLoad: tokens/s over the window is published with its sample count, then dropped") {
  auto url = redis::testing::redis_url_for_tests();
  if (!url) return;
  auto connected = redis::RedisClient::connect(*url);
  REQUIRE(connected.is_ok());
  redis::RedisClient& r = **connected;
  const std::string prefix = redis::testing::unique_key_prefix();
  const std::string key = prefix + "load:svc";
  ServiceLoad load(r, prefix, "b1");
  load.set_ttft_window(400ms);
  CHECK(load.tokens_per_s("svc") == 0);

  load.begin("svc");
  load.end("svc");
  load.observe_tokens("svc", 30);
  load.observe_tokens("svc", 10);
  load.observe_tokens("svc", 0);   // nothing generated: not a sample
  load.observe_tokens("svc", -5);  // ignored
  // 40 tokens over the time since the service's first request, at least
  // min(1 s, window) = 400 ms here: 100 tok/s.
  CHECK(load.tokens_per_s("svc") == doctest::Approx(100));
  REQUIRE(load.publish().is_ok());
  Published p = read_field(r, key, "b1");
  REQUIRE(p.present);
  CHECK(p.o.at("tokens_count").as_int64() == 2);
  CHECK(p.o.at("tokens_per_s").to_number<double>() == doctest::Approx(100));

  // After the window: published once more without the figure.
  std::this_thread::sleep_for(450ms);
  CHECK(load.tokens_per_s("svc") == 0);
  REQUIRE(load.publish().is_ok());
  p = read_field(r, key, "b1");
  REQUIRE(p.present);
  CHECK(!p.o.contains("tokens_per_s"));
  CHECK(!p.o.contains("tokens_count"));
  (void)r.del({key});
}

}  // namespace
}  // namespace scn::broker
