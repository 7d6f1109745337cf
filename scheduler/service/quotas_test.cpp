#include "scheduler/service/quotas.h"

#include <doctest/doctest.h>

#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;

constexpr uint64_t kGiB = 1ull << 30;

Assignment gpu(uint64_t bytes, int cores = 1) {
  Assignment a;
  a.kind = DeviceKind::kGpu;
  a.memory_bytes = bytes;
  a.cpu_cores = cores;
  return a;
}
Assignment cpu(int cores, uint64_t bytes = kGiB) {
  Assignment a;
  a.kind = DeviceKind::kCpu;
  a.memory_bytes = bytes;
  a.cpu_cores = cores;
  return a;
}

TEST_CASE("quota_violation: each quota, in order, with the why-pending text") {
  struct Case {
    const char* name;
    TenantQuota quota;
    TenantUsage usage;
    Assignment add;
    std::string expect;
  };
  const Case cases[] = {
      {"no quota", {}, {5, 5, int64_t(50 * kGiB), 50}, gpu(10 * kGiB), ""},
      {"replicas at the limit", {2, {}, {}, {}}, {2, 0, 0, 2}, cpu(1), "quota: replicas 2+1 > 2"},
      {"replicas below", {3, {}, {}, {}}, {2, 0, 0, 2}, cpu(1), ""},
      {"gpus", {{}, 1, {}, {}}, {1, 1, int64_t(8 * kGiB), 1}, gpu(8 * kGiB), "quota: gpus 1+1 > 1"},
      {"a cpu replica needs no gpu", {{}, 1, {}, {}}, {1, 1, int64_t(8 * kGiB), 1}, cpu(2), ""},
      {"gpu memory", {{}, {}, int64_t(16 * kGiB), {}}, {1, 1, int64_t(10 * kGiB), 1}, gpu(8 * kGiB),
       "quota: gpu memory 10.0 GiB+8.0 GiB > 16.0 GiB"},
      {"cpu cores", {{}, {}, {}, 8}, {2, 0, 0, 6}, cpu(4), "quota: cpu cores 6+4 > 8"},
      {"replicas first", {1, 0, {}, 0}, {1, 0, 0, 0}, gpu(kGiB), "quota: replicas 1+1 > 1"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string got = quota_violation(c.quota, c.usage, c.add);
    if (c.expect.rfind("quota: gpu memory", 0) == 0)
      CHECK(got.rfind("quota: gpu memory", 0) == 0);
    else
      CHECK(got == c.expect);
  }
}

TEST_CASE("under_guaranteed_share: every quota set must be at or below the fraction") {
  struct Case {
    TenantQuota quota;
    TenantUsage usage;
    bool expect;
  };
  const Case cases[] = {
      {{}, {0, 0, 0, 0}, false},                // no quota: no guaranteed share
      {{4, {}, {}, {}}, {2, 0, 0, 0}, true},    // 2 <= 4 x 0.5
      {{4, {}, {}, {}}, {3, 0, 0, 0}, false},
      {{4, 2, {}, {}}, {1, 2, 0, 0}, false},    // gpus over half
      {{{}, {}, {}, 16}, {3, 0, 0, 8}, true},
  };
  for (const Case& c : cases) CHECK(under_guaranteed_share(c.quota, c.usage) == c.expect);
}

// A snapshot of CPU nodes n1..n3 (8 cores each) in one center.
Snapshot cpu_pool() {
  Snapshot s;
  Center c;
  c.id = "c";
  c.name = "c";
  c.region = "guangdong";
  REQUIRE(s.add_center(c).is_ok());
  for (const char* id : {"n1", "n2", "n3"}) {
    Node n;
    n.id = id;
    n.name = id;
    n.center_id = "c";
    n.cpu_cores = 8;
    n.free_cpu_cores = 0;
    n.ram_bytes = 64 * kGiB;
    n.free_ram_bytes = 32 * kGiB;
    REQUIRE(s.add_node(n).is_ok());
  }
  return s;
}

RunningReplica run(const char* id, const char* node, const char* tenant, int priority, int64_t started,
                   int cores, bool preempted = false) {
  RunningReplica r;
  r.replica_id = id;
  r.service_id = std::string("svc-") + id;
  r.tenant_id = tenant;
  r.node_id = node;
  r.priority = priority;
  r.started_ms = started;
  r.cpu_cores = cores;
  r.memory_bytes = kGiB;
  r.preempted = preempted;
  return r;
}

// Fits when the freed replicas give back at least `cores` cores.
FitsAfter needs_cores(int cores) {
  return [cores](const Node& node, const std::vector<const RunningReplica*>& freed) {
    return node_with_freed(node, freed).free_cpu_cores >= cores;
  };
}

TEST_CASE("plan_preemption: fewest victims, lowest priority, most recently started, fair share") {
  const Snapshot pool = cpu_pool();
  struct Case {
    const char* name;
    int priority;
    std::vector<RunningReplica> running;
    std::map<std::string, bool> protect;
    int cores;
    std::optional<std::string> node;
    std::vector<std::string> victims;
  };
  const std::vector<Case> cases = {
      {"nothing lower", 0, {run("a", "n1", "t", 0, 1, 8)}, {}, 4, std::nullopt, {}},
      {"one victim enough", 10,
       {run("a", "n1", "t", 0, 1, 4), run("b", "n1", "t", 0, 2, 4)}, {}, 4, "n1", {"b"}},
      {"lowest priority first", 10,
       {run("a", "n1", "t", -5, 1, 4), run("b", "n1", "t", 0, 2, 4)}, {}, 4, "n1", {"a"}},
      {"the node needing fewer victims wins", 10,
       {run("a", "n1", "t", 0, 1, 2), run("b", "n1", "t", 0, 2, 2), run("c", "n2", "t", 0, 3, 6)},
       {}, 4, "n2", {"c"}},
      {"equal count: lower top priority wins", 10,
       {run("a", "n1", "t", 5, 1, 8), run("c", "n2", "t", 1, 3, 8)}, {}, 4, "n2", {"c"}},
      {"never the same or higher priority", 10,
       {run("a", "n1", "t", 10, 1, 8), run("b", "n2", "t", 20, 1, 8)}, {}, 4, std::nullopt, {}},
      {"tenant under its guaranteed share is spared", 10,
       {run("a", "n1", "fair", 0, 1, 8), run("b", "n2", "greedy", 0, 1, 8)}, {{"fair", true}}, 4, "n2",
       {"b"}},
      {"already preempted ones are waited for", 10,
       {run("a", "n1", "t", 0, 1, 4, true), run("b", "n1", "t", 0, 2, 4)}, {}, 4, "n1", {}},
      {"several victims when needed", 10,
       {run("a", "n1", "t", 0, 1, 2), run("b", "n1", "t", 0, 3, 2), run("c", "n1", "t", 0, 2, 2)}, {}, 4,
       "n1", {"b", "c"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto plan = plan_preemption(pool, c.priority, c.running, c.protect, needs_cores(c.cores));
    REQUIRE(plan.has_value() == c.node.has_value());
    if (!plan) continue;
    CHECK(plan->node_id == *c.node);
    CHECK(plan->victims == c.victims);
  }
}

std::string reason_of(Env& env, const std::string& svc) {
  return one(env.pool(), "SELECT string_agg(state || ':' || coalesce(reason, ''), ',') FROM replicas "
                         "WHERE service_id = " + q(svc));
}

TEST_CASE("cycle: a replica over its tenant's quota stays pending with reason quota") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  heartbeat(*env, p.n2, p.s2);
  one(env->pool(), "UPDATE tenants SET quota_cpu_cores = 3 WHERE id = " + q(p.tenant) + " RETURNING id");
  const std::string svc = add_service(env->pool(), p.tenant, p.file, "chat", 2, R"({"device_kind":"cpu","cpu_threads":2})");
  REQUIRE(env->reconciler->became_leader().is_ok());
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.placement.placed == 1);
  CHECK(r.placement.over_quota == 1);
  CHECK(one(env->pool(), "SELECT reason FROM replicas WHERE state = 'pending'") == "quota: cpu cores 2+2 > 3");
  one(env->pool(), "UPDATE tenants SET quota_cpu_cores = 4 WHERE id = " + q(p.tenant) + " RETURNING id");
  r = env->reconciler->run_cycle();
  CHECK(r.placement.placed == 1);
  CHECK(reason_of(*env, svc).find("pending") == std::string::npos);
}

TEST_CASE("cycle: a higher-priority replica preempts; the victim goes back to pending; fair share spares") {
  auto env = make_env();
  if (!env) return;
  Pool2 p = make_pool(*env);
  heartbeat(*env, p.n1, p.s1);
  one(env->pool(), "UPDATE nodes SET status = 'draining' WHERE id = " + q(p.n2) + " RETURNING id");
  const std::string other = add_tenant(env->pool(), "beta");
  const std::string low = add_service(env->pool(), other, p.file, "low", 1, R"({"device_kind":"cpu","cpu_threads":6})");
  REQUIRE(env->reconciler->became_leader().is_ok());
  env->reconciler->run_cycle();
  const std::string victim = one(env->pool(), "SELECT id FROM replicas WHERE service_id = " + q(low));
  heartbeat(*env, p.n1, p.s1, "[" + replica_json(victim, "ready", 21001) + "]");

  // The fair tenant (quota 16 cores, using 6 <= 8) is spared: high stays pending.
  one(env->pool(), "UPDATE tenants SET quota_cpu_cores = 16 WHERE id = " + q(other) + " RETURNING id");
  const std::string high = add_service(env->pool(), p.tenant, p.file, "high", 1, R"({"device_kind":"cpu","cpu_threads":4})");
  one(env->pool(), "UPDATE services SET priority = 10 WHERE id = " + q(high) + " RETURNING id");
  CycleReport r = env->reconciler->run_cycle();
  CHECK(r.placement.preempted == 0);
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(victim)) == "ready");

  // Over its guaranteed share (quota 8: 6 > 4): preempted.
  one(env->pool(), "UPDATE tenants SET quota_cpu_cores = 8 WHERE id = " + q(other) + " RETURNING id");
  r = env->reconciler->run_cycle();
  CHECK(r.placement.preempted == 1);
  CHECK(one(env->pool(), "SELECT state || ':' || reason FROM replicas WHERE id = " + q(victim)) ==
        "stopping:preempted by service " + high + " (priority 10)");
  r = env->reconciler->run_cycle();  // waits, preempts nothing more; the victim's service gets a pending one
  CHECK(r.placement.preempted == 0);
  CHECK(one(env->pool(), "SELECT reason FROM replicas WHERE service_id = " + q(high)).find("waiting for") == 0);
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE service_id = " + q(low) + " AND state = 'pending'") == "1");
  // The agent stops it: high is placed; low's replacement stays pending.
  heartbeat(*env, p.n1, p.s1, "[]");
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE id = " + q(victim)) == "stopped");
  r = env->reconciler->run_cycle();
  CHECK(one(env->pool(), "SELECT state FROM replicas WHERE service_id = " + q(high)) == "scheduled");
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE service_id = " + q(low) + " AND state = 'pending'") == "1");
}

}  // namespace
}  // namespace scn::scheduler
