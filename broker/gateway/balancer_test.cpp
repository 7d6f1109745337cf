#include "broker/gateway/balancer.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "broker/gateway/replica_probe.h"
#include "common/http/server.h"
#include "common/json.h"

namespace scn::broker {
namespace {

const std::vector<Endpoint> kEps = {{"r1", "n", "c", "http://a:1"}, {"r2", "n", "c", "http://b:2"},
                                    {"r3", "n", "c", "http://c:3"}};

boost::json::object obj(std::string_view text) {
  auto r = common::parse_json_object(text);
  REQUIRE(r.is_ok());
  return *r;
}

}  // namespace

TEST_CASE("EndpointBalancer: prefix affinity unless the replica is loaded beyond the margin") {
  EndpointBalancer b(BalancerOptions{std::chrono::milliseconds(200), 2, 4096});
  const std::uint64_t p = prefix_hash("svc", "system\nYou are terse.\nuser\nHi\n");
  // Unknown prefix: least loaded / round robin.
  auto first = b.pick("svc", kEps, {}, p);
  REQUIRE(first);
  b.remember(p, "http://b:2");
  for (int i = 0; i < 5; ++i) CHECK(b.pick("svc", kEps, {}, p)->url == "http://b:2");
  // Within the margin (2 more than the least) it keeps the prefix's replica.
  b.begin("http://b:2");
  b.begin("http://b:2");
  CHECK(b.pick("svc", kEps, {}, p)->url == "http://b:2");
  // Beyond the margin: the least loaded instead.
  b.begin("http://b:2");
  CHECK(b.pick("svc", kEps, {}, p)->url != "http://b:2");
  // A worker's own report counts too (max of both), and expires.
  for (int i = 0; i < 3; ++i) b.end("http://b:2");
  CHECK(b.load("http://b:2") == 0);
  b.set_reported_load("http://b:2", 7);
  CHECK(b.load("http://b:2") == 7);
  CHECK(b.pick("svc", kEps, {}, p)->url != "http://b:2");
  b.set_reported_load("http://b:2", 0);
  CHECK(b.pick("svc", kEps, {}, p)->url == "http://b:2");
  // Tried or bad replicas are not taken for affinity.
  CHECK(b.pick("svc", kEps, {"http://b:2"}, p)->url != "http://b:2");
  b.mark_bad("http://b:2");
  CHECK(b.pick("svc", kEps, {}, p)->url != "http://b:2");
  // Without a prefix: plain least loaded.
  b.set_reported_load("http://a:1", 5);
  for (int i = 0; i < 4; ++i) CHECK(b.pick("svc", kEps, {}, 0)->url == "http://c:3");
  // Picked endpoints are what the probe polls.
  std::set<std::string> recent;
  for (const auto& u : b.recent_urls(std::chrono::minutes(1))) recent.insert(u);
  CHECK(recent.count("http://c:3") == 1);
}

TEST_CASE("EndpointBalancer: the affinity map is a bounded LRU") {
  EndpointBalancer b(BalancerOptions{std::chrono::milliseconds(200), 0, 2});
  b.remember(1, "http://a:1");
  b.remember(2, "http://b:2");
  b.remember(1, "http://a:1");  // 1 is now the most recent
  b.remember(3, "http://c:3");  // evicts 2
  // Equal load everywhere (margin 0): affinity decides.
  for (int i = 0; i < 3; ++i) CHECK(b.pick("s", kEps, {}, 1)->url == "http://a:1");
  for (int i = 0; i < 3; ++i) CHECK(b.pick("s", kEps, {}, 3)->url == "http://c:3");
  std::set<std::string> seen;
  for (int i = 0; i < 6; ++i) seen.insert(b.pick("s", kEps, {}, 2)->url);
  CHECK(seen.size() == 3);  // forgotten: round robin
  CHECK_FALSE(b.pick("s", {}, {}, 1).has_value());
}

TEST_CASE("prompt_prefix and prefix_hash") {
  struct Case {
    const char* body;
    std::string prefix;
  };
  const Case cases[] = {
      {R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]})",
       "system\nBe brief.\nuser\nHi\n"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})",
       "user\nab\n"},
      {R"({"prompt":"Once upon"})", "Once upon"},
      {R"({"prompt":["Once","Twice"]})", "Once"},
      {R"({"prompt":[1,403,407]})", "1,403,407,"},
      {R"({"prompt":7})", ""},
      {R"({"model":"x"})", ""},
      {R"({"messages":"nope"})", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    CHECK(prompt_prefix(obj(c.body)) == c.prefix);
  }
  const std::string long_prompt(1000, 'x');
  CHECK(prompt_prefix(obj(R"({"prompt":")" + long_prompt + R"("})"), 256).size() == 256);
  // The same first 256 bytes -> the same hash; another service -> another.
  CHECK(prefix_hash("s", prompt_prefix(obj(R"({"prompt":")" + long_prompt + R"(a"})"))) ==
        prefix_hash("s", prompt_prefix(obj(R"({"prompt":")" + long_prompt + R"(b"})"))));
  CHECK(prefix_hash("s", "abc") != prefix_hash("t", "abc"));
  CHECK(prefix_hash("s", "abc") != prefix_hash("s", "abd"));
  CHECK(prefix_hash("s", "") == 0);
}

TEST_CASE("health_load reads queued + running of a worker's /health") {
  CHECK(health_load(R"({"status":"ready","queued":2,"running":3,"max_queue":64})") == 5);
  CHECK(health_load(R"({"status":"ready","queued":0,"running":0})") == 0);
  CHECK_FALSE(health_load(R"({"status":"ready"})").has_value());
  CHECK_FALSE(health_load(R"({"queued":-1,"running":0})").has_value());
  CHECK_FALSE(health_load("not json").has_value());
}

TEST_CASE("ReplicaProbe: the workers' /health load reaches the balancer, for replicas in use only") {
  std::atomic<int> polled{0};
  http::Server worker;
  worker.route("GET", "/health", [&](const http::Request&, http::Response& rs) {
    ++polled;
    rs.set_json(200, R"({"status":"ready","queued":3,"running":4,"max_queue":64})");
  });
  REQUIRE(worker.start().is_ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(worker.port());
  EndpointBalancer b;
  ReplicaProbe probe(b);
  probe.probe_once();
  CHECK(polled == 0);  // never picked: not polled
  const std::vector<Endpoint> eps = {{"r1", "n", "c", url}, {"r2", "n", "c", "http://127.0.0.1:1"}};
  REQUIRE(b.pick("s", eps, {}, 0));
  REQUIRE(b.pick("s", eps, {}, 0));
  probe.start(std::chrono::milliseconds(50));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (b.load(url) != 7 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(b.load(url) == 7);
  CHECK(b.load("http://127.0.0.1:1") == 0);  // unreachable: no report
  for (int i = 0; i < 4; ++i) CHECK(b.pick("s", eps, {}, 0)->url == "http://127.0.0.1:1");
  probe.stop();
  worker.stop();
  worker.wait();
}

}  // namespace scn::broker
