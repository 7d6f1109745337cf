// Autoscaling end to end (issue 7, "Following demand"): real PostgreSQL and
// Redis, real `scn scheduler`, `scn broker` and two `scn agent`s (simulated
// GPU inventories, real `scn infer` workers of stories260K), driven over
// real HTTP. Short stabilisation windows (up 1 s, down 2 s) and idle_seconds
// 3 keep it quick: a service with min 0 / max 3 scales to zero when idle; a
// request to it is held while it wakes (x-scn-cold-start-ms) and answered;
// concurrent load above target_outstanding scales it up to 3 ready replicas;
// when the load stops it goes back to zero; and with a target_ttft_ms the
// TTFT rule alone (one request at a time) scales it up.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "broker/accounts.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/redis/redis.h"
#include "tests/e2e/e2e_world.h"

namespace scn::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct ServiceState {
  int64_t wanted = -1, ready = -1;
  std::string raw;
};

ServiceState service_state(ApiSession& who, const std::string& id) {
  ServiceState s;
  auto a = who.call("GET", "/api/v1/services/" + id);
  if (!a.is_ok() || a->status != 200 || !a->body.is_object()) return s;
  s.wanted = int_field(a->body.as_object(), "replicas_wanted");
  s.ready = int_field(a->body.as_object(), "replicas_ready");
  s.raw = a->raw;
  return s;
}

std::string completion_body(int max_tokens) {
  return json::serialize(json::object{{"model", "elastic"},
                                      {"prompt", "Once upon a time"},
                                      {"temperature", 0},
                                      {"max_tokens", max_tokens}});
}

// Requests from `threads` clients, one after another each, until `stop`.
class Load {
 public:
  Load(const Platform& p, const std::string& key, int threads, int max_tokens) {
    for (int i = 0; i < threads; ++i)
      workers_.emplace_back([this, url = p.broker_url(), key, max_tokens] {
        ApiSession g(url, 60s);
        g.use_api_key(key);
        while (!stop_) {
          auto a = g.call("POST", "/v1/completions", completion_body(max_tokens));
          if (a.is_ok() && a->status == 200) {
            ++ok_;
          } else {
            ++bad_;
            std::lock_guard<std::mutex> lock(mu_);
            last_error_ = a.is_ok() ? std::to_string(a->status) + " " + a->raw : a.status().to_string();
          }
        }
      });
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }
  int ok() const { return ok_; }
  int bad() const { return bad_; }
  std::string last_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, bad_{0};
  std::mutex mu_;
  std::string last_error_;
  std::vector<std::thread> workers_;
};

TEST_CASE("e2e autoscale: to zero when idle, a held cold start, up under load, back to zero, up on TTFT") {
  PlatformOptions po;
  po.scheduler_args = {"--autoscale-up-window-ms", "1000", "--autoscale-down-window-ms", "2000"};
  po.broker_args = {"--cold-start-hold-ms", "60000"};
  auto p = Platform::start(po);
  if (!p) return;
  INFO(p->logs(40));
  db::PgPool& pg = p->pg();
  broker::Actor actor;
  auto center = broker::create_center(pg, {"center-z", "beijing", 2.5, 0.05}, actor);
  REQUIRE_MESSAGE(center.is_ok(), center.status().to_string());
  broker::NewTenant nt;
  nt.name = "tenant-z";
  auto tenant = broker::create_tenant(pg, nt, actor);
  REQUIRE_MESSAGE(tenant.is_ok(), tenant.status().to_string());
  make_user(pg, "root", broker::Role::kAdmin, "");
  make_user(pg, "zoe", broker::Role::kMember, tenant->id);
  ApiSession admin = logged_in(p->broker_url(), "root");
  ApiSession zoe = logged_in(p->broker_url(), "zoe");

  // Two agents with simulated GPU inventories (the workers are real).
  auto token = admin.call("POST", "/api/v1/centers/" + center->id + "/join-tokens",
                          R"({"ttl_seconds": 600, "max_uses": 2})");
  REQUIRE(token.is_ok());
  REQUIRE_MESSAGE(token->status == 201, token->raw);
  p->add_agent("z-1", token->str("token"), "8xH200-141G");
  p->add_agent("z-2", token->str("token"), "8xA100-80G");
  REQUIRE(eventually(30s, [&] {
    return sql_count(pg, "SELECT count(*) FROM nodes WHERE status = 'ready'") == 2;
  }));
  auto key = zoe.call("POST", "/api/v1/api-keys", R"({"name": "autoscale"})");
  REQUIRE(key.is_ok());
  REQUIRE_MESSAGE(key->status == 201, key->raw);
  const std::string api_key = key->str("key");

  // A service between 0 and 3 replicas, 1 request in flight per replica,
  // idle after 3 s. It starts at 1 and, never called, goes to zero.
  auto created = zoe.call("POST", "/api/v1/services",
                          R"({"name": "elastic", "model": "stories260k", "min_replicas": 0,
                              "max_replicas": 3, "target_outstanding": 1, "idle_seconds": 3})");
  REQUIRE(created.is_ok());
  REQUIRE_MESSAGE(created->status == 201, created->raw);
  const std::string id = created->str("id");
  const std::string live_replicas =
      "SELECT count(*) FROM replicas WHERE service_id = '" + id +
      "' AND state IN ('pending', 'scheduled', 'starting', 'ready', 'stopping')";
  ServiceState st;
  bool at_zero = eventually(30s, [&] {
    st = service_state(zoe, id);
    return st.wanted == 0 && st.ready == 0 && sql_count(pg, live_replicas) == 0;
  });
  INFO("service: ", st.raw);
  REQUIRE(at_zero);

  // A request to it is held while it wakes, then answered.
  const auto sent = std::chrono::steady_clock::now();
  auto cold = http::request("POST", p->broker_url() + "/v1/completions", completion_body(8),
                            {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + api_key}},
                            90s);
  REQUIRE_MESSAGE(cold.is_ok(), cold.status().to_string());
  INFO("cold start answer: ", cold->status, " ", cold->body);
  REQUIRE(cold->status == 200);
  auto cold_ms = cold->headers.get("x-scn-cold-start-ms");
  REQUIRE(cold_ms.has_value());
  const int64_t held = std::stoll(std::string(*cold_ms));
  CHECK(held > 0);
  CHECK(held <= std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent)
                    .count());
  auto text = common::parse_json_object(cold->body);
  REQUIRE(text.is_ok());
  CHECK_FALSE(std::string(text->at("choices").as_array().at(0).at("text").as_string()).empty());
  st = service_state(zoe, id);
  CHECK(st.wanted == 1);
  CHECK(st.ready == 1);

  // Four clients at once, target 1 in flight per replica: up to max (3),
  // the replicas ready on the agents.
  {
    Load load(*p, api_key, 4, 48);
    bool scaled = eventually(45s, [&] {
      st = service_state(zoe, id);
      return st.wanted == 3 && st.ready >= 2;
    });
    INFO("service: ", st.raw);
    CHECK(scaled);
    load.stop();
    INFO("last failed request: ", load.last_error());
    CHECK(load.ok() > 0);
    CHECK(load.bad() == 0);
  }
  CHECK(sql_count(pg, "SELECT count(DISTINCT node_id) FROM replicas r JOIN nodes n ON n.id = r.node_id "
                      "WHERE r.service_id = '" + id + "' AND r.state = 'ready'") >= 1);

  // The load stops: back to zero (idle for 3 s).
  at_zero = eventually(30s, [&] {
    st = service_state(zoe, id);
    return st.wanted == 0 && st.ready == 0;
  });
  INFO("service: ", st.raw);
  CHECK(at_zero);

  // Latency: a TTFT target far below any real answer and no load rule to
  // speak of (10000 in flight per replica): one request at a time wakes the
  // service and then the TTFT rule alone takes it to max.
  auto scaled = zoe.call("POST", "/api/v1/services/" + id + "/autoscale",
                         R"({"min_replicas": 0, "max_replicas": 3, "target_outstanding": 10000,
                             "target_ttft_ms": 0.01})");
  REQUIRE(scaled.is_ok());
  REQUIRE_MESSAGE(scaled->status == 200, scaled->raw);
  {
    Load sequential(*p, api_key, 1, 8);
    bool up = eventually(45s, [&] {
      st = service_state(zoe, id);
      return st.wanted == 3;
    });
    INFO("service: ", st.raw);
    CHECK(up);
    // What the broker published: a TTFT p90 for the service.
    auto redis = redis::RedisClient::connect(p->redis_url());
    REQUIRE(redis.is_ok());
    auto fields = (*redis)->hgetall("scn:load:" + id);
    REQUIRE(fields.is_ok());
    double p90 = -1;
    for (const auto& [broker, value] : *fields) {
      auto o = common::parse_json_object(value);
      if (o.is_ok() && o->contains("ttft_p90_ms")) p90 = o->at("ttft_p90_ms").to_number<double>();
    }
    CHECK(p90 > 0);
    sequential.stop();
    CHECK(sequential.bad() == 0);
  }
  // The scheduler's decisions, in order (shown with -s).
  const std::string log = p->scheduler().log_tail(5000);
  std::string decisions;
  for (size_t at = log.find("autoscale service"); at != std::string::npos;
       at = log.find("autoscale service", at + 1))
    decisions += log.substr(at, log.find('\n', at) - at) + "\n";
  MESSAGE("autoscaling decisions:\n", decisions);
  auto count = [&](std::string_view what) {
    int n = 0;
    for (size_t at = decisions.find(what); at != std::string::npos; at = decisions.find(what, at + 1)) ++n;
    return n;
  };
  // No flapping: woken twice (the cold start, the TTFT phase), idled twice.
  CHECK(count("(woken by a request)") == 2);
  CHECK(count("(idle for ") == 2);
  CHECK(count("(load ") >= 1);
  CHECK(count("(ttft p90 ") >= 1);
}

}  // namespace
}  // namespace scn::e2e
