// Leader fencing and takeover: in-process (two reconcilers, one deposed) and
// with two real `scn scheduler` processes, the leader SIGKILLed.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>

#include <sys/wait.h>
#include <unistd.h>
#include <thread>

#include "common/http/client.h"
#include "scheduler/service/binder.h"
#include "scheduler/service/fencing.h"
#include "scheduler/service/scheduler_service.h"
#include "scheduler/service/service_test_util.h"

namespace scn::scheduler {
namespace {

using namespace scn::scheduler::testing;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST_CASE("fencing: a deposed leader's cycle and bind are refused; the new leader's go through") {
  auto env = make_env();
  if (!env) return;
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center);
  const std::string tenant = add_tenant(env->pool(), "acme");
  const std::string file = add_model_file(env->pool());
  auto [node, secret] = register_node(*env, token, "node-1");
  heartbeat(*env, node, secret);

  Reconciler old_leader(env->pool(), *env->redis, *env->routes, env->config, env->metrics);
  REQUIRE(old_leader.became_leader().is_ok());
  const int64_t old_epoch = old_leader.epoch();
  CHECK(old_epoch >= 1);
  Reconciler new_leader(env->pool(), *env->redis, *env->routes, env->config, env->metrics);
  REQUIRE(new_leader.became_leader().is_ok());
  CHECK(new_leader.epoch() == old_epoch + 1);
  CHECK(*current_epoch(env->pool()) == new_leader.epoch());

  add_service(env->pool(), tenant, file, "chat", 1, R"({"device_kind":"cpu"})");
  CycleReport late = old_leader.run_cycle();
  CHECK(late.fenced);
  CHECK(late.counts.created == 0);
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas") == "0");

  // A bind prepared with the old epoch is refused even though the replica is pending.
  REQUIRE(reconcile_replica_counts(env->pool(), new_leader.epoch()).is_ok());
  auto view = load_pool(env->pool(), env->redis.get(), env->config.node_ttl);
  REQUIRE(view.is_ok());
  REQUIRE(view->pending.size() == 1);
  Placement pl = place(view->snapshot, view->pending[0].request);
  REQUIRE(pl.scheduled());
  BindRequest b = bind_request(*view, view->pending[0], *pl.decision, pl.why());
  b.epoch = old_epoch;
  Status refused = bind_replica(env->pool(), b);
  CHECK(is_fenced(refused));
  CHECK(one(env->pool(), "SELECT state FROM replicas") == "pending");
  CHECK(!is_fenced(Status::conflict("x")));

  CycleReport r = new_leader.run_cycle();
  CHECK(!r.fenced);
  CHECK(r.placement.placed == 1);
  CHECK(one(env->pool(), "SELECT state || ':' || bound_epoch FROM replicas") ==
        "scheduled:" + std::to_string(new_leader.epoch()));
}

// One scheduler process on a fixed port: `scn scheduler` (SCN_BINARY, when it
// exists), else this test binary forked into SchedulerService (the same code).
struct SchedulerProcess {
  int port = 0;
  std::unique_ptr<process::Subprocess> proc;
  pid_t pid = -1;  // the forked child
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }
  void kill_hard() {
    if (proc) {
      proc->signal(SIGKILL);
      proc->wait_for(milliseconds(5000));
    } else if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~SchedulerProcess() { kill_hard(); }
};

bool have_scn_binary() {
  const char* b = std::getenv("SCN_BINARY");
  return b && *b && ::access(b, X_OK) == 0;
}

std::unique_ptr<SchedulerProcess> start_scheduler(const std::string& pg_url, const std::string& redis_url,
                                                  const scn::testing::TempDir& dir, const std::string& name) {
  auto s = std::make_unique<SchedulerProcess>();
  s->port = scn::testing::free_port();
  if (have_scn_binary()) {
    process::SpawnOptions o;
    o.argv = {scn::testing::scn_binary(), "scheduler", "--pg-url", pg_url, "--redis-url", redis_url,
              "--port", std::to_string(s->port), "--loop-ms", "100", "--node-ttl-ms", "3000"};
    o.log_path = dir.file(name + ".log");
    auto p = process::Subprocess::spawn(o);
    REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
    s->proc = std::move(p).value();
    return s;
  }
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child: a scheduler until killed
    metrics::Registry registry;
    SchedulerOptions o;
    o.pg_url = pg_url;
    o.redis_url = redis_url;
    o.port = s->port;
    o.config.loop = milliseconds(100);
    o.config.node_ttl = milliseconds(3000);
    auto service = SchedulerService::start(o, registry);
    if (!service.is_ok()) ::_exit(2);
    (*service)->wait();
    ::_exit(0);
  }
  s->pid = pid;
  return s;
}

// GET /health as an object (empty when not answering).
boost::json::object health(const SchedulerProcess& s) {
  auto r = http::request("GET", s.base() + "/health");
  if (!r.is_ok() || r->status != 200) return {};
  auto obj = common::parse_json_object(r->body);
  return obj.is_ok() ? *obj : boost::json::object{};
}

bool leads(const SchedulerProcess& s) {
  auto h = health(s);
  return h.contains("leader") && h.at("leader").as_bool();
}

TEST_CASE("failover: two scn scheduler processes; SIGKILL the leader, the standby leads within 5 s") {
  const std::string how = have_scn_binary() ? "scn scheduler" : "forked";
  MESSAGE("scheduler processes: " << how);
  auto env = make_env();
  if (!env) return;
  scn::testing::TempDir dir;
  const std::string pg = env->db->db->url();
  auto a = start_scheduler(pg, env->redis_server->url(), dir, "a");
  // a leads first (wait), then b starts as the standby.
  bool a_leads = false;
  for (int i = 0; i < 300 && !(a_leads = leads(*a)); ++i) std::this_thread::sleep_for(milliseconds(50));
  REQUIRE_MESSAGE(a_leads, "the first scheduler never led");
  auto b = start_scheduler(pg, env->redis_server->url(), dir, "b");
  bool b_up = false;
  for (int i = 0; i < 300 && !(b_up = health(*b).contains("leader")); ++i)
    std::this_thread::sleep_for(milliseconds(50));
  REQUIRE(b_up);
  std::this_thread::sleep_for(milliseconds(1500));  // b polls the lock at least once
  CHECK(!leads(*b));
  CHECK(leads(*a));
  const int64_t old_epoch = health(*a).at("epoch").as_int64();
  CHECK(old_epoch == *current_epoch(env->pool()));

  // A service for the new leader to act on once it leads.
  const std::string center = add_center(env->pool(), "gd-1", "guangdong");
  const std::string token = add_join_token(env->pool(), center);
  const std::string tenant = add_tenant(env->pool(), "acme");
  const std::string file = add_model_file(env->pool());
  auto [node, secret] = register_node(*env, token, "node-1");
  heartbeat(*env, node, secret);

  a->kill_hard();
  const auto killed = Clock::now();
  bool b_leads = false;
  while (!(b_leads = leads(*b)) && Clock::now() - killed < std::chrono::seconds(5))
    std::this_thread::sleep_for(milliseconds(50));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - killed);
  MESSAGE("standby led after " << took.count() << " ms");
  REQUIRE_MESSAGE(b_leads, "the standby did not lead within 5 s");
  const int64_t new_epoch = health(*b).at("epoch").as_int64();
  CHECK(new_epoch == old_epoch + 1);

  // The new leader works: it creates and binds the replica under its epoch.
  add_service(env->pool(), tenant, file, "chat", 1, R"({"device_kind":"cpu"})");
  std::string state;
  for (int i = 0; i < 100 && state.rfind("scheduled", 0) != 0; ++i) {
    heartbeat(*env, node, secret);
    state = one(env->pool(), "SELECT state || ':' || coalesce(bound_epoch::text, '-') FROM replicas");
    std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(state == "scheduled:" + std::to_string(new_epoch));

  // A late write of the dead leader (its epoch) is refused.
  one(env->pool(), "UPDATE services SET replicas_wanted = 2 RETURNING id");
  REQUIRE(reconcile_replica_counts(env->pool(), new_epoch).is_ok());
  auto late = reconcile_replica_counts(env->pool(), old_epoch);
  CHECK(is_fenced(late.status()));
  // (checked before anything else in the transaction, whatever the rows say)
  BindRequest bind;
  bind.replica_id = one(env->pool(), "SELECT id FROM replicas WHERE state = 'pending' LIMIT 1");
  if (bind.replica_id.empty()) bind.replica_id = one(env->pool(), "SELECT id FROM replicas LIMIT 1");
  bind.replica_version = std::stoll(one(env->pool(), "SELECT version FROM replicas WHERE id = " + q(bind.replica_id)));
  bind.node_id = node;
  bind.node_version = std::stoll(one(env->pool(), "SELECT version FROM nodes WHERE id = " + q(node)));
  bind.reason = "late";
  bind.epoch = old_epoch;
  CHECK(is_fenced(bind_replica(env->pool(), bind)));
  CHECK(one(env->pool(), "SELECT count(*) FROM replicas WHERE reason = 'late'") == "0");
  b->kill_hard();
}

}  // namespace
}  // namespace scn::scheduler
