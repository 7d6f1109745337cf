#include "scheduler/service/autoscaler.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("decide_scale: bounds, wake, idle to zero, and the stabilisation windows") {
  const AutoscaleWindows w{seconds(10), seconds(30)};
  const SteadyTime t0{};
  struct Case {
    const char* name;
    AutoscaleSignal s;
    int expect;
    const char* reason_part;
  };
  auto sig = [](int min, int max, int wanted, double load) {
    AutoscaleSignal s;
    s.min_replicas = min;
    s.max_replicas = max;
    s.wanted = wanted;
    s.load = load;
    s.target_outstanding = 4;
    s.idle_for_s = 1;
    s.idle_seconds = 60;
    return s;
  };
  AutoscaleSignal demand = sig(0, 3, 0, 0);
  demand.demand = true;
  AutoscaleSignal idle = sig(0, 3, 2, 0);
  idle.idle_for_s = 61;
  AutoscaleSignal idle_min1 = sig(1, 3, 2, 0);
  idle_min1.idle_for_s = 61;
  AutoscaleSignal idle_busy = sig(0, 3, 2, 1);
  idle_busy.idle_for_s = 61;
  const Case cases[] = {
      {"below min", sig(2, 5, 1, 0), 2, "below min_replicas"},
      {"above max", sig(0, 3, 5, 0), 3, "above max_replicas"},
      {"at zero, no demand", sig(0, 3, 0, 0), 0, ""},
      {"at zero, wake", demand, 1, "woken"},
      {"at zero, load", sig(0, 3, 0, 2), 1, "woken"},
      {"idle to zero", idle, 0, "idle for 61 s"},
      {"idle but min 1: down window first", idle_min1, 2, ""},
      {"idle time but load", idle_busy, 2, ""},
      {"load within target", sig(1, 5, 2, 8), 2, ""},
      {"load above: window not yet passed", sig(1, 5, 2, 20), 2, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    AutoscaleMemory m;
    AutoscaleDecision d = decide_scale(c.s, m, t0, w);
    CHECK(d.wanted == c.expect);
    CHECK(d.reason.find(c.reason_part) != std::string::npos);
  }

  // Up: 20 outstanding / 4 per replica = 5, after 10 s above without a break.
  AutoscaleMemory m;
  CHECK(decide_scale(sig(1, 8, 2, 20), m, t0, w).wanted == 2);
  CHECK(decide_scale(sig(1, 8, 2, 20), m, t0 + seconds(5), w).wanted == 2);
  CHECK(decide_scale(sig(1, 8, 2, 8), m, t0 + seconds(6), w).wanted == 2);   // a break resets
  CHECK(decide_scale(sig(1, 8, 2, 20), m, t0 + seconds(12), w).wanted == 2);
  CHECK(decide_scale(sig(1, 8, 2, 20), m, t0 + seconds(21), w).wanted == 2);
  AutoscaleDecision up = decide_scale(sig(1, 8, 2, 20), m, t0 + seconds(22), w);
  CHECK(up.wanted == 5);
  CHECK(up.reason == "load 20.0 above target");
  CHECK(decide_scale(sig(1, 4, 2, 100), m, t0 + seconds(40), w).wanted == 2);  // window again
  CHECK(decide_scale(sig(1, 4, 2, 100), m, t0 + seconds(50), w).wanted == 4);  // capped at max
  // Down: after 30 s below, to ceil(load / target) but never under max(1, min).
  AutoscaleMemory d;
  CHECK(decide_scale(sig(0, 8, 5, 3), d, t0, w).wanted == 5);
  CHECK(decide_scale(sig(0, 8, 5, 3), d, t0 + seconds(29), w).wanted == 5);
  CHECK(decide_scale(sig(0, 8, 5, 3), d, t0 + seconds(30), w).wanted == 1);
  CHECK(decide_scale(sig(2, 8, 5, 0), d, t0 + seconds(31), w).wanted == 5);
  CHECK(decide_scale(sig(2, 8, 5, 0), d, t0 + seconds(61), w).wanted == 2);
}

TEST_CASE("decide_scale: the TTFT rule (desired = max(load rule, ceil(wanted * p90 / target))) and the tokens/s "
          "rule (desired >= ceil(tokens/s / target_tokens_per_second))") {
  const AutoscaleWindows w{seconds(0), seconds(0)};
  const SteadyTime t0{};
  struct Case {
    const char* name;
    int min, max, wanted;
    double load;
    std::optional<double> target_tps, tps;
    std::optional<double> target_ttft, p90;
    int expect;
    const char* reason_part;
  };
  const Case cases[] = {
      {"ttft: no target: load rule only", 1, 8, 2, 8, std::nullopt, std::nullopt, std::nullopt, 900, 2, ""},
      {"ttft: target but no figure: load rule only", 1, 8, 2, 8, std::nullopt, std::nullopt, 200, std::nullopt, 2, ""},
      {"ttft: p90 at target: stays", 1, 8, 2, 8, std::nullopt, std::nullopt, 200, 200, 2, ""},
      {"ttft: p90 twice the target: doubles", 1, 8, 2, 0, std::nullopt, std::nullopt, 200, 400, 4, "ttft p90 400 ms above target 200 ms"},
      {"ttft: p90 1.2x: ceil", 1, 8, 2, 0, std::nullopt, std::nullopt, 200, 240, 3, "ttft p90 240 ms above target"},
      {"ttft: capped at max", 1, 5, 2, 0, std::nullopt, std::nullopt, 100, 1000, 5, "ttft p90 1000 ms above"},
      {"ttft: load rule larger: load decides", 1, 8, 2, 24, std::nullopt, std::nullopt, 200, 300, 6, "load 24.0 above target"},
      {"ttft: p90 low: down to the load rule", 1, 8, 4, 4, std::nullopt, std::nullopt, 200, 50, 1, "load 4.0 below target"},
      {"ttft: p90 low, no load: the TTFT rule keeps 2", 1, 8, 4, 0, std::nullopt, std::nullopt, 200, 100, 2, "ttft p90 100 ms below target 200 ms"},
      {"ttft: never under min", 3, 8, 4, 0, std::nullopt, std::nullopt, 200, 10, 3, "below target"},
      {"ttft: at zero: woken by load, not scaled by TTFT", 0, 8, 0, 1, std::nullopt, std::nullopt, 1, 1000, 1, "woken"},
      {"ttft: idle to zero despite a high p90", 0, 8, 3, 0, std::nullopt, std::nullopt, 100, 1000, 0, "idle for"},
      {"ttft: absurd p90 is bounded", 1, 8, 2, 0, std::nullopt, std::nullopt, 0.001, 1e300, 8, "above target"},
      {"tokens/s: no target: load rule only", 1, 8, 2, 8, std::nullopt, 5000, std::nullopt, std::nullopt, 2, ""},
      {"tokens/s: target but no figure: load rule only", 1, 8, 2, 8, 100, std::nullopt, std::nullopt, std::nullopt, 2, ""},
      {"tokens/s: at target: stays", 1, 8, 2, 8, 100, 200, std::nullopt, std::nullopt, 2, ""},
      {"tokens/s: 450 tok/s at 100 per replica: 5", 1, 8, 2, 0, 100, 450, std::nullopt, std::nullopt, 5,
       "tokens/s 450 above target 100 per replica"},
      {"tokens/s: fractional target", 1, 8, 1, 0, 62.5, 130, std::nullopt, std::nullopt, 3, "target 62.50 per replica"},
      {"tokens/s: capped at max", 1, 4, 2, 0, 10, 1000, std::nullopt, std::nullopt, 4, "tokens/s 1000 above"},
      {"tokens/s: load rule larger: load decides", 1, 8, 2, 24, 100, 300, std::nullopt, std::nullopt, 6, "load 24.0 above"},
      {"tokens/s: TTFT rule larger: TTFT decides", 1, 8, 2, 0, 100, 300, 100, 400, 8, "ttft p90 400 ms above"},
      {"tokens/s: tokens larger than TTFT", 1, 8, 2, 0, 100, 700, 100, 200, 7, "tokens/s 700 above"},
      {"tokens/s: low throughput: down to the tokens rule", 1, 8, 6, 0, 100, 250, std::nullopt, std::nullopt, 3,
       "tokens/s 250 below target 100 per replica"},
      {"tokens/s: no traffic: down to max(1, min)", 2, 8, 6, 0, 100, 0, std::nullopt, std::nullopt, 2, "below target"},
      {"tokens/s: absurd figure is bounded", 1, 8, 2, 0, 0.001, 1e300, std::nullopt, std::nullopt, 8, "above target"},
      {"tokens/s: at zero: woken, not scaled by tokens", 0, 8, 0, 1, 1, 1e6, std::nullopt, std::nullopt, 1, "woken"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    AutoscaleSignal s;
    s.min_replicas = c.min;
    s.max_replicas = c.max;
    s.wanted = c.wanted;
    s.load = c.load;
    s.target_outstanding = 4;
    s.idle_for_s = std::string(c.name).find(": idle to zero") != std::string::npos ? 100 : 1;
    s.idle_seconds = 60;
    s.target_tokens_per_second = c.target_tps;
    s.tokens_per_s = c.tps;
    s.target_ttft_ms = c.target_ttft;
    s.ttft_p90_ms = c.p90;
    AutoscaleMemory m;
    AutoscaleDecision d = decide_scale(s, m, t0, w);
    CHECK(d.wanted == c.expect);
    CHECK(d.reason.find(c.reason_part) != std::string::npos);
  }
  // The up window applies to the TTFT rule too.
  const AutoscaleWindows slow{seconds(10), seconds(30)};
  AutoscaleSignal s;
  s.min_replicas = 1;
  s.max_replicas = 8;
  s.wanted = 2;
  s.target_ttft_ms = 100;
  s.ttft_p90_ms = 300;
  AutoscaleMemory m;
  CHECK(decide_scale(s, m, t0, slow).wanted == 2);
  CHECK(decide_scale(s, m, t0 + seconds(9), slow).wanted == 2);
  CHECK(decide_scale(s, m, t0 + seconds(10), slow).wanted == 6);
}

// The TTFT overshoot after a scale-up, replayed second by second: a service
// at 2 replicas answers in 400 ms (target 200 ms); replicas become ready 5 s
// after they are wanted, and from then on answers take 150 ms. The brokers'
// p90 is over a 30 s window: it stays 400 ms while more than 10 % of the
// window's samples are from before the new replicas served.
TEST_CASE("decide_scale: the TTFT rule after a scale-up - overshoot without the hold, none with it") {
  struct Case {
    const char* name;
    std::chrono::milliseconds settle;  // AutoscaleWindows::ttft_settle (0: no hold, the old rule)
    int expect_max_wanted;             // the most replicas ever wanted
    int expect_final;                  // wanted after 90 s
  };
  const Case cases[] = {
      {"no hold: the stale p90 multiplies again, to max", milliseconds(0), 8, 5},
      {"hold until ready + 30 s: one step to 4, then down to the fresh figure", seconds(30), 4, 3},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const AutoscaleWindows w{seconds(1), seconds(20), c.settle};
    const SteadyTime t0{};
    AutoscaleMemory m;
    int wanted = 2, max_wanted = 2;
    std::vector<std::pair<int, int>> wanted_since{{0, 2}};  // (second, wanted): replicas ready 5 s later
    int fresh_from = -1;  // the second from which every replica wanted serves (-1: not yet)
    for (int t = 0; t <= 90; ++t) {
      int ready = 0;
      for (const auto& [at, n] : wanted_since)
        if (t >= at + 5 || at == 0) ready = n;
      if (ready >= wanted && wanted > 2 && fresh_from < 0) fresh_from = t;
      // Old samples are more than 10 % of the window until 27 s after the new replicas serve.
      const bool stale = fresh_from < 0 || t - fresh_from < 27;
      AutoscaleSignal s;
      s.min_replicas = 1;
      s.max_replicas = 8;
      s.wanted = wanted;
      s.ready = ready;
      s.load = 0.5;
      s.target_outstanding = 4;
      s.idle_for_s = 0;
      s.target_ttft_ms = 200;
      s.ttft_p90_ms = stale ? 400 : 150;
      AutoscaleDecision d = decide_scale(s, m, t0 + seconds(t), w);
      if (d.wanted != wanted) {
        if (d.wanted > wanted) fresh_from = -1;
        wanted = d.wanted;
        wanted_since.emplace_back(t, wanted);
      }
      max_wanted = std::max(max_wanted, wanted);
    }
    CHECK(max_wanted == c.expect_max_wanted);
    CHECK(wanted == c.expect_final);
  }
}

TEST_CASE("decide_scale: the TTFT hold ends at the latest 4 x ttft_settle after the scale-up") {
  const AutoscaleWindows w{seconds(0), seconds(0), seconds(10)};
  const SteadyTime t0{};
  AutoscaleSignal s;
  s.min_replicas = 1;
  s.max_replicas = 8;
  s.wanted = 1;
  s.ready = 1;
  s.target_ttft_ms = 100;
  s.ttft_p90_ms = 200;
  AutoscaleMemory m;
  REQUIRE(decide_scale(s, m, t0, w).wanted == 2);
  s.wanted = 2;  // the new replica never becomes ready (s.ready stays 1)
  CHECK(decide_scale(s, m, t0 + seconds(10), w).wanted == 2);  // held
  CHECK(decide_scale(s, m, t0 + seconds(39), w).wanted == 2);  // held
  CHECK(decide_scale(s, m, t0 + seconds(40), w).wanted == 4);  // released: the figure counts again
}

std::string wanted_of(Env& env, const std::string& svc) {
  return one(env.pool(), "SELECT replicas_wanted FROM services WHERE id = " + q(svc));
}

TEST_CASE("autoscaler in the cycle: up on broker load, down, to zero when idle, woken by demand") {
  auto env = make_env(seconds(30));
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
  one(env->pool(), "UPDATE services SET min_replicas = 0, max_replicas = 3, target_outstanding = 2, "
                   "idle_seconds = 1 WHERE id = " + q(svc) + " RETURNING id");
  env->config.scale_up_window = milliseconds(0);
  env->config.scale_down_window = milliseconds(200);
  Reconciler rec(env->pool(), *env->redis, *env->routes, env->config, env->metrics);
  REQUIRE(rec.became_leader().is_ok());

  // Two brokers report 5 in flight: ceil(5 / 2) = 3 replicas.
  const auto now_ms = [] {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  REQUIRE(env->redis->hset(load_key(svc), {{"broker-a", R"({"in_flight":3,"last_request_ms":)" + std::to_string(now_ms()) + "}"},
                                           {"broker-b", R"({"in_flight":2})"}}).is_ok());
  CycleReport r = rec.run_cycle();
  CHECK(r.autoscaled == 1);
  CHECK(wanted_of(*env, svc) == "3");
  CHECK(r.counts.created == 3);
  CHECK(one(env->pool(), "SELECT last_request_at IS NOT NULL FROM services") == "t");

  // The load falls to 1: after the down window, 1 replica.
  REQUIRE(env->redis->hset(load_key(svc), {{"broker-a", R"({"in_flight":1,"last_request_ms":)" + std::to_string(now_ms()) + "}"},
                                           {"broker-b", R"({"in_flight":0})"}}).is_ok());
  r = rec.run_cycle();
  CHECK(wanted_of(*env, svc) == "3");
  std::this_thread::sleep_for(milliseconds(250));
  r = rec.run_cycle();
  CHECK(wanted_of(*env, svc) == "1");

  // No load and no request for idle_seconds: to zero.
  REQUIRE(env->redis->del({load_key(svc)}).is_ok());
  std::this_thread::sleep_for(milliseconds(1100));
  r = rec.run_cycle();
  CHECK(wanted_of(*env, svc) == "0");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE state IN ('pending', 'scheduled')") == "0");
  r = rec.run_cycle();
  CHECK(wanted_of(*env, svc) == "0");

  // A wake from a broker: back to 1 at once, and the demand key is consumed.
  const std::string before_wake = one(env->pool(), "SELECT last_request_at FROM services");
  REQUIRE(env->redis->set(demand_key(svc), "1").is_ok());
  r = rec.run_cycle();
  CHECK(wanted_of(*env, svc) == "1");
  CHECK(r.placement.placed == 1);
  CHECK(!env->redis->get(demand_key(svc))->has_value());
  // The wake counts as a request: not idled back to zero before the brokers report.
  CHECK(one(env->pool(), "SELECT last_request_at > '" + before_wake + "'::timestamptz FROM services") == "t");
  r = rec.run_cycle();
  CHECK(wanted_of(*env, svc) == "1");
}

TEST_CASE("autoscaler: load from the agents' heartbeats (outstanding per ready replica)") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n2) + " RETURNING id");
  const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
  one(env->pool(), "UPDATE services SET min_replicas = 1, max_replicas = 4, target_outstanding = 2 "
                   "WHERE id = " + q(svc) + " RETURNING id");
  env->config.scale_up_window = milliseconds(0);
  Reconciler rec(env->pool(), *env->redis, *env->routes, env->config, env->metrics);
  REQUIRE(rec.became_leader().is_ok());
  rec.run_cycle();
  const std::string rid = one(env->pool(), "SELECT id FROM replicas");
  REQUIRE(!rid.empty());
  heartbeat(*env, p.n1, p.s1,
            R"([{"replica_id":")" + rid + R"(","state":"ready","port":21001,"restarts":0,"outstanding":7}])");
  CycleReport r = rec.run_cycle();
  CHECK(r.autoscaled == 1);
  CHECK(wanted_of(*env, svc) == "4");
}

// The brokers' figures in scn:load:{id} against a service target: two
// brokers with samples and one without (a count of 0 is not a figure).
struct BrokerSignalCase {
  const char* name;
  const char* target_column;  // services column of the target
  int target;
  std::vector<std::pair<std::string, std::string>> brokers;  // field -> JSON
  const char* wanted;  // replicas_wanted after one cycle
};

TEST_CASE("autoscaler in the cycle: the brokers' TTFT p90 or tokens/s above the service's target scales up") {
  const std::vector<BrokerSignalCase> cases = {
      // The larger p90 counts: 250 ms on 1 replica at a 100 ms target: 3.
      {"ttft", "target_ttft_ms", 100,
       {{"broker-a", R"({"in_flight":1,"ttft_p90_ms":250,"ttft_count":4})"},
        {"broker-b", R"({"in_flight":0,"ttft_p90_ms":120,"ttft_count":9})"},
        {"broker-c", R"({"in_flight":0,"ttft_p90_ms":9000,"ttft_count":0})"}},
       "3"},
      // Tokens/s add up: 70 + 40 = 110 at 50 per replica: 3.
      {"tokens/s", "target_tokens_per_second", 50,
       {{"broker-a", R"({"in_flight":1,"tokens_per_s":70,"tokens_count":4})"},
        {"broker-b", R"({"in_flight":0,"tokens_per_s":40,"tokens_count":2})"},
        {"broker-c", R"({"in_flight":0,"tokens_per_s":9000,"tokens_count":0})"}},
       "3"},
  };
  for (const BrokerSignalCase& c : cases) {
    SUBCASE(c.name) {
      auto env = make_env();
      if (!env) return;
      Pool2 p = make_pool(*env);
      heartbeat(*env, p.n1, p.s1);
      heartbeat(*env, p.n2, p.s2);
      const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 1, R"({"device_kind":"cpu"})");
      one(env->pool(), std::string("UPDATE services SET min_replicas = 1, max_replicas = 4, target_outstanding = "
                                   "100, ") + c.target_column + " = " + std::to_string(c.target) +
                           " WHERE id = " + q(svc) + " RETURNING id");
      env->config.scale_up_window = milliseconds(0);
      Reconciler rec(env->pool(), *env->redis, *env->routes, env->config, env->metrics);
      REQUIRE(rec.became_leader().is_ok());
      rec.run_cycle();
      CHECK(wanted_of(*env, svc) == "1");
      REQUIRE(env->redis->hset(load_key(svc), c.brokers).is_ok());
      CycleReport r = rec.run_cycle();
      CHECK(r.autoscaled == 1);
      CHECK(wanted_of(*env, svc) == c.wanted);
      // Without a target, the same figures do nothing (load 1 of 100).
      one(env->pool(), std::string("UPDATE services SET ") + c.target_column +
                           " = NULL, replicas_wanted = 1 WHERE id = " + q(svc) + " RETURNING id");
      r = rec.run_cycle();
      CHECK(wanted_of(*env, svc) == "1");
      (void)env->redis->del({load_key(svc)});
    }
  }
}

}  // namespace
}  // namespace scn::scheduler
