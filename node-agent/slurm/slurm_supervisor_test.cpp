// SlurmSupervisor with real Slurm jobs running real `scn infer` on a local
// cluster (scripts/slurm-local.sh).
#include "node-agent/slurm/slurm_supervisor.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "common/http/client.h"
#include "node-agent/test_util.h"
#include "tests/slurm_cluster.h"

namespace scn::node_agent::slurm {
namespace {

using namespace std::chrono_literals;

std::optional<ReplicaReport> wait_for(SlurmSupervisor& sup, const std::string& node, const std::string& id,
                                      ReplicaState state, std::chrono::milliseconds timeout,
                                      const std::function<bool(const ReplicaReport&)>& also = {}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& r : sup.report(node)) {
      if (r.replica_id == id && r.state == state && (!also || also(r))) return r;
    }
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

std::string job_state(const SlurmClient& client, std::int64_t id) {
  auto jobs = client.jobs();
  if (!jobs.is_ok()) return "?";
  for (const auto& j : *jobs) {
    if (j.job_id == id) return j.state;
  }
  return "gone";
}

bool health_ok(int port) {
  auto r = http::request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health", {}, {}, 1s);
  return r.is_ok() && r->status == 200;
}

TEST_CASE("job_script execs scn infer with a port file") {
  std::string s = SlurmSupervisor::job_script({"/bin/scn", "infer", "--alias", "it's"}, "/shared/jobs");
  CHECK(s.rfind("#!/bin/sh\n", 0) == 0);
  CHECK(s.find("exec '/bin/scn' 'infer' '--alias' 'it'\\''s' --port-file '/shared/jobs/'\"$SLURM_JOB_ID\".port\n") !=
        std::string::npos);
}

TEST_CASE("SlurmSupervisor: a replica as a Slurm job; scancel -> failed and resubmitted; walltime swap; stop") {
  if (!testutil::have_model_and_binary()) return;
  auto cluster = testing::SlurmCluster::start();
  if (!cluster) return;
  testing::TempDir dir;
  ModelCache cache(dir.file("models"));
  SlurmClient client;
  SlurmSupervisorOptions o;
  o.infer_binary = testing::scn_binary();
  o.state_dir = dir.path().string();
  o.partition = "scn";
  o.time_limit = 60s;
  o.replace_before = 1s;  // no walltime swap in the first part
  o.poll_interval = 300ms;
  o.switch_delay = 500ms;
  const std::string node = cluster->node();
  {
    SlurmSupervisor sup(o, client, cache);
    DesiredReplica want = testutil::stories_replica("r-1", "svc");
    want.cpu_threads = 2;
    want.memory_bytes = 300 << 20;
    sup.set_desired(node, {want});
    auto ready = wait_for(sup, node, "r-1", ReplicaState::kReady, 40s);
    REQUIRE_MESSAGE(ready, "log: " << cluster->shell("cat " + dir.file("jobs") + "/*.log"));
    REQUIRE(ready->port);
    CHECK(health_ok(*ready->port));
    auto job = sup.job_of("r-1");
    REQUIRE(job);
    auto jobs = client.jobs();
    REQUIRE(jobs.is_ok());
    bool found = false;
    for (const auto& j : *jobs) {
      if (j.job_id != *job) continue;
      found = true;
      CHECK(j.name == "scn-r-1");
      CHECK(j.cpus == 2);
      CHECK(j.memory_mb == 300);
      CHECK(j.time_limit_min == 1);
      CHECK(j.partition == "scn");
    }
    CHECK(found);
    auto view = sup.nodes();
    REQUIRE(view.count(node));
    CHECK(view[node].our_cpus == 2);
    CHECK(view[node].our_memory_mb == 300);
    CHECK(sup.controller_ok());

    // Cancelled from outside: failed with Slurm's state, then a new job.
    cluster->shell("scancel " + std::to_string(*job));
    auto failed = wait_for(sup, node, "r-1", ReplicaState::kFailed, 10s);
    REQUIRE(failed);
    CHECK(failed->reason.find("Slurm job " + std::to_string(*job)) == 0);
    CHECK(failed->reason.find("CANCELLED") != std::string::npos);
    auto again = wait_for(sup, node, "r-1", ReplicaState::kReady, 40s);
    REQUIRE(again);
    CHECK(again->restarts == 1);
    CHECK(sup.job_of("r-1") != job);

    // No longer desired: cancelled, reported stopped once.
    const auto last_job = sup.job_of("r-1");
    REQUIRE(last_job);
    sup.set_desired(node, {});
    auto stopped = wait_for(sup, node, "r-1", ReplicaState::kStopped, 10s);
    REQUIRE(stopped);
    std::string st;
    for (int i = 0; i < 50 && job_state_is_active(st = job_state(client, *last_job)); ++i) std::this_thread::sleep_for(100ms);
    CHECK(st == "CANCELLED");
  }

  // Walltime: a 1-minute job replaced 55 s before its end -> a ready
  // replacement takes over (new port), the old job is cancelled by us.
  o.replace_before = 55s;
  SlurmSupervisor sup(o, client, cache);
  DesiredReplica want = testutil::stories_replica("r-2", "svc");
  sup.set_desired(node, {want});
  auto ready = wait_for(sup, node, "r-2", ReplicaState::kReady, 40s);
  REQUIRE(ready);
  const auto first_job = sup.job_of("r-2");
  REQUIRE(first_job);
  auto swapped = wait_for(sup, node, "r-2", ReplicaState::kReady, 40s,
                          [&](const ReplicaReport& r) { return r.port != ready->port; });
  REQUIRE_MESSAGE(swapped, "jobs: " << cluster->shell("squeue"));
  CHECK(health_ok(*swapped->port));
  CHECK(sup.job_of("r-2") != first_job);
  std::string st;
  for (int i = 0; i < 50 && job_state_is_active(st = job_state(client, *first_job)); ++i) std::this_thread::sleep_for(100ms);
  CHECK(st == "CANCELLED");  // by the agent, before its time limit
  sup.stop_all();
  // Cancelled: nothing active once Slurm finished the cancellation.
  auto active = [&] {
    auto left = client.jobs();
    REQUIRE(left.is_ok());
    int n = 0;
    for (const auto& j : *left) n += job_state_is_active(j.state) ? 1 : 0;
    return n;
  };
  for (int i = 0; i < 50 && active() > 0; ++i) std::this_thread::sleep_for(100ms);
  CHECK(active() == 0);
}

TEST_CASE("SlurmSupervisor: the controller unreachable -> replicas keep running and serving") {
  if (!testutil::have_model_and_binary()) return;
  auto cluster = testing::SlurmCluster::start();
  if (!cluster) return;
  testing::TempDir dir;
  ModelCache cache(dir.file("models"));
  SlurmClientOptions co;
  co.timeout = 20s;
  SlurmClient client(co);
  SlurmSupervisorOptions o;
  o.infer_binary = testing::scn_binary();
  o.state_dir = dir.path().string();
  o.partition = "scn";
  o.time_limit = 600s;
  o.replace_before = 1s;
  o.poll_interval = 300ms;
  const std::string node = cluster->node();
  SlurmSupervisor sup(o, client, cache);
  sup.set_desired(node, {testutil::stories_replica("r-3", "svc")});
  auto ready = wait_for(sup, node, "r-3", ReplicaState::kReady, 40s);
  REQUIRE(ready);
  REQUIRE(ready->port);
  const auto job = sup.job_of("r-3");
  REQUIRE(job);
  CHECK(sup.controller_ok());

  // slurmctld frozen (SIGSTOP): squeue/sinfo time out (MessageTimeout=5).
  std::ifstream pidf(cluster->dir() + "/slurmctld.pid");
  pid_t pid = 0;
  pidf >> pid;
  REQUIRE(pid > 0);
  ::kill(pid, SIGSTOP);
  bool unreachable = false;
  for (int i = 0; i < 300 && !unreachable; ++i) {
    unreachable = !sup.controller_ok();
    if (!unreachable) std::this_thread::sleep_for(100ms);
  }
  CHECK(unreachable);
  // Nothing is failed, cancelled or resubmitted meanwhile; the worker serves.
  std::this_thread::sleep_for(2s);
  auto during = wait_for(sup, node, "r-3", ReplicaState::kReady, 1s);
  CHECK(during);
  if (during) CHECK(during->port == ready->port);
  CHECK(sup.job_of("r-3") == job);
  CHECK(health_ok(*ready->port));

  ::kill(pid, SIGCONT);
  bool back = false;
  for (int i = 0; i < 300 && !back; ++i) {
    back = sup.controller_ok();
    if (!back) std::this_thread::sleep_for(100ms);
  }
  CHECK(back);
  CHECK(sup.job_of("r-3") == job);
  sup.stop_all();
}

}  // namespace
}  // namespace scn::node_agent::slurm
