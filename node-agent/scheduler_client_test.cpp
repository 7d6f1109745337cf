#include "node-agent/scheduler_client.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "common/http/server.h"
#include "tests/testing.h"

namespace scn::node_agent {
namespace {

using namespace std::chrono_literals;

TEST_CASE("parse_scheduler_urls") {
  struct Case {
    const char* text;
    std::vector<std::string> want;  // empty: an error
  };
  const Case cases[] = {
      {"http://a:7070", {"http://a:7070"}},
      {"http://a:7070/", {"http://a:7070"}},
      {"http://a:7070,http://b:7070", {"http://a:7070", "http://b:7070"}},
      {" http://a:7070 , https://b:7070// ", {"http://a:7070", "https://b:7070"}},
      {"http://a:7070,http://a:7070/", {"http://a:7070"}},
      {"", {}},
      {"  ", {}},
      {"http://a:7070,", {}},
      {",http://a:7070", {}},
      {"a:7070", {}},
      {"ftp://a", {}},
      {"http://", {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_scheduler_urls(c.text);
    if (c.want.empty()) {
      CHECK(!got.is_ok());
      if (!got.is_ok()) CHECK(got.status().code() == Code::kInvalidArgument);
    } else {
      REQUIRE(got.is_ok());
      CHECK(got.value() == c.want);
    }
  }
}

TEST_CASE("SchedulerClient::backoff doubles from 250 ms up to 8 s") {
  const std::pair<int, int> table[] = {{1, 250}, {2, 500}, {3, 1000}, {5, 4000}, {6, 8000}, {7, 8000}, {40, 8000}};
  for (auto [failures, ms] : table) {
    CAPTURE(failures);
    CHECK(SchedulerClient::backoff(failures).count() == ms);
  }
}

// A scheduler instance that answers POST /agent/v1/heartbeat with a
// settable status and counts the requests.
class FakeInstance {
 public:
  explicit FakeInstance(std::string name) : name_(std::move(name)) {
    server_.route("POST", "/agent/v1/heartbeat", [this](const http::Request&, http::Response& res) {
      ++hits_;
      const int s = status_.load();
      if (s == 200) {
        res.set_json(200, R"({"from":")" + name_ + R"("})");
        return;
      }
      http::error_response(res, s, s == 503 ? "unavailable" : "invalid_request_error", "fake " + name_);
    });
    REQUIRE(server_.start().is_ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  void set_status(int s) { status_ = s; }
  int hits() const { return hits_.load(); }
  void stop() {
    server_.stop();
    server_.wait();
  }

 private:
  std::string name_;
  http::Server server_;
  std::atomic<int> status_{200};
  std::atomic<int> hits_{0};
};

Result<http::ClientResponse> beat(SchedulerClient& c) {
  return c.post("/agent/v1/heartbeat", "{}", {{"Content-Type", "application/json"}}, 2000ms);
}

TEST_CASE("SchedulerClient: a dead first URL fails over to the next, which then stays current") {
  FakeInstance b("b");
  const std::string dead = "http://127.0.0.1:" + std::to_string(scn::testing::free_port());
  SchedulerClient c({dead, b.url()}, "test");
  CHECK(c.current() == dead);
  auto r = beat(c);
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(r->body.find("\"b\"") != std::string::npos);
  CHECK(c.current() == b.url());
  for (int i = 0; i < 3; ++i) REQUIRE(beat(c).is_ok());
  CHECK(b.hits() == 4);
  CHECK(c.current() == b.url());
}

TEST_CASE("SchedulerClient: 5xx fails over, 4xx does not; the failed URL backs off") {
  FakeInstance a("a"), b("b");
  SchedulerClient c({a.url(), b.url()}, "test");

  SUBCASE("401 from the current one is the answer") {
    a.set_status(401);
    auto r = beat(c);
    REQUIRE(r.is_ok());
    CHECK(r->status == 401);
    CHECK(b.hits() == 0);
    CHECK(c.current() == a.url());
  }
  SUBCASE("410 from the current one is the answer") {
    a.set_status(410);
    auto r = beat(c);
    REQUIRE(r.is_ok());
    CHECK(r->status == 410);
    CHECK(b.hits() == 0);
  }
  SUBCASE("503, 500, 502, 504 move to the next and stay there") {
    for (int status : {503, 500, 502, 504}) {
      CAPTURE(status);
      a.set_status(status);
      b.set_status(200);
      SchedulerClient fresh({a.url(), b.url()}, "test");
      const int a0 = a.hits(), b0 = b.hits();
      auto r = beat(fresh);
      REQUIRE(r.is_ok());
      CHECK(r->status == 200);
      CHECK(a.hits() == a0 + 1);
      CHECK(b.hits() == b0 + 1);
      CHECK(fresh.current() == b.url());
      a.set_status(200);  // a healthy again: no flapping back while b answers
      REQUIRE(beat(fresh).is_ok());
      CHECK(a.hits() == a0 + 1);
      CHECK(b.hits() == b0 + 2);
    }
  }
  SUBCASE("both failing: the last 5xx comes back; then each backs off, yet every call sends one request") {
    a.set_status(503);
    b.set_status(503);
    auto r = beat(c);
    REQUIRE(r.is_ok());
    CHECK(r->status == 503);
    CHECK(a.hits() == 1);
    CHECK(b.hits() == 1);
    // Both back off now (250 ms): the next call sends one request only.
    r = beat(c);
    REQUIRE(r.is_ok());
    CHECK(a.hits() + b.hits() == 3);
    // b recovers; once a's and b's backoff ended, the call reaches b.
    b.set_status(200);
    std::this_thread::sleep_for(600ms);
    r = beat(c);
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    CHECK(c.current() == b.url());
  }
  SUBCASE("the current one dies: the next call fails over at once") {
    REQUIRE(beat(c).is_ok());
    CHECK(c.current() == a.url());
    a.stop();
    auto r = beat(c);
    REQUIRE(r.is_ok());
    CHECK(r->status == 200);
    CHECK(c.current() == b.url());
  }
}

}  // namespace
}  // namespace scn::node_agent
