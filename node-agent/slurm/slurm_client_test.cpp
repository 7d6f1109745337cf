// SlurmClient against a real local Slurm cluster (scripts/slurm-local.sh).
#include "node-agent/slurm/slurm_client.h"

#include <doctest/doctest.h>

#include <signal.h>

#include <fstream>
#include <functional>
#include <thread>

#include "tests/slurm_cluster.h"

namespace scn::node_agent::slurm {
namespace {

using namespace std::chrono_literals;

std::optional<SlurmJob> find_job(const SlurmClient& c, std::int64_t id) {
  auto jobs = c.jobs();
  REQUIRE(jobs.is_ok());
  for (const auto& j : *jobs) {
    if (j.job_id == id) return j;
  }
  return std::nullopt;
}

// Polls squeue (every 100 ms, up to 10 s) until job `id` satisfies `done`;
// returns the last view of it (nullopt: squeue never listed it).
std::optional<SlurmJob> wait_job(const SlurmClient& c, std::int64_t id,
                                 const std::function<bool(const SlurmJob&)>& done) {
  std::optional<SlurmJob> job;
  for (int i = 0; i < 100; ++i) {
    job = find_job(c, id);
    if (job && done(*job)) break;
    std::this_thread::sleep_for(100ms);
  }
  return job;
}

bool running(const SlurmJob& j) { return j.state == "RUNNING"; }

TEST_CASE("sbatch_args") {
  JobSpec s;
  s.name = "scn-r1";
  s.cpus = 2;
  s.memory_mb = 512;
  s.gpus = 1;
  s.time_limit_min = 240;
  s.nodelist = "n1";
  s.account = "acc";
  s.partition = "p";
  s.reservation = "r";
  s.nice = 1000;
  s.output_path = "/o";
  s.working_dir = "/w";
  s.script_path = "/s.sh";
  CHECK(sbatch_args(s) == std::vector<std::string>{"--parsable", "--job-name", "scn-r1", "-c", "2", "--mem", "512",
                                                   "--gres=gpu:1", "--time", "240", "--nodelist", "n1",
                                                   "--account", "acc", "--partition", "p", "--reservation", "r",
                                                   "--nice=1000", "--output", "/o", "--chdir", "/w", "/s.sh"});
}

TEST_CASE("SlurmClient: nodes, submit, job state, cancel on a real cluster") {
  auto cluster = testing::SlurmCluster::start();
  if (!cluster) return;
  SlurmClient client;
  auto nodes = client.nodes();
  REQUIRE_MESSAGE(nodes.is_ok(), nodes.status().to_string());
  REQUIRE(nodes->size() == 1);
  CHECK((*nodes)[0].name == cluster->node());
  CHECK((*nodes)[0].cpus == 16);
  CHECK((*nodes)[0].real_memory_mb == 32000);
  CHECK((*nodes)[0].state == "idle");
  CHECK((*nodes)[0].partitions == std::vector<std::string>{"scn"});

  const std::string script = cluster->dir() + "/job.sh";
  { std::ofstream(script) << "#!/bin/sh\necho hello > " << cluster->dir() << "/ran\nsleep 60\n"; }
  JobSpec spec;
  spec.name = "scn-test";
  spec.cpus = 2;
  spec.memory_mb = 300;
  spec.time_limit_min = 5;
  spec.nodelist = cluster->node();
  spec.partition = "scn";
  spec.output_path = cluster->dir() + "/job.out";
  spec.working_dir = cluster->dir();
  spec.script_path = script;
  auto id = client.submit(spec);
  REQUIRE_MESSAGE(id.is_ok(), id.status().to_string());

  std::optional<SlurmJob> job = wait_job(client, *id, running);
  REQUIRE(job);
  CHECK(job->state == "RUNNING");
  CHECK(job->name == "scn-test");
  CHECK(job->cpus == 2);
  CHECK(job->memory_mb == 300);
  CHECK(job->time_limit_min == 5);
  CHECK(job->batch_host == cluster->node());
  auto busy = client.nodes();
  REQUIRE(busy.is_ok());
  CHECK((*busy)[0].alloc_cpus == 2);
  CHECK((*busy)[0].alloc_memory_mb == 300);
  CHECK((*busy)[0].state == "mixed");

  REQUIRE(client.cancel(*id).is_ok());
  job = wait_job(client, *id, [](const SlurmJob& j) { return !job_state_is_active(j.state); });
  REQUIRE(job);
  CHECK(job->state == "CANCELLED");
  CHECK(client.cancel(*id).is_ok());  // already ended: fine

  spec.partition = "nosuchpartition";
  auto bad = client.submit(spec);
  CHECK(bad.status().code() == Code::kInternal);
  CHECK(bad.status().message().find("partition") != std::string::npos);
}

TEST_CASE("SlurmClient: a stopped controller is kUnavailable") {
  auto cluster = testing::SlurmCluster::start();
  if (!cluster) return;
  SlurmClientOptions o;
  o.timeout = 20s;
  SlurmClient client(o);
  REQUIRE(client.nodes().is_ok());
  std::ifstream pidf(cluster->dir() + "/slurmctld.pid");
  pid_t pid = 0;
  pidf >> pid;
  REQUIRE(pid > 0);
  ::kill(pid, SIGTERM);
  std::this_thread::sleep_for(1s);
  // The JSON commands answer with an "errors" entry (after MessageTimeout),
  // sbatch with "Unable to contact slurm controller".
  CHECK(client.jobs().status().code() == Code::kUnavailable);
  JobSpec spec;
  spec.name = "x";
  spec.script_path = cluster->dir() + "/none.sh";
  { std::ofstream(spec.script_path) << "#!/bin/sh\ntrue\n"; }
  CHECK(client.submit(spec).status().code() == Code::kUnavailable);
}

TEST_CASE("SlurmClient: a reservation's nodes on a real cluster, and jobs submitted into it") {
  auto cluster = testing::SlurmCluster::start();
  if (!cluster) return;
  SlurmClient client;
  CHECK(client.reservation_nodes("scn-nosuch").status().code() == Code::kNotFound);
  auto made = client.run("scontrol", {"create", "reservation", "ReservationName=scn-platform", "Users=root",
                                      "Nodes=" + cluster->node(), "StartTime=now", "Duration=10",
                                      "Flags=ignore_jobs"});
  REQUIRE(made.is_ok());
  REQUIRE_MESSAGE(made->exit_status == 0, made->err);
  auto nodes = client.reservation_nodes("scn-platform");
  REQUIRE_MESSAGE(nodes.is_ok(), nodes.status().to_string());
  CHECK(*nodes == std::vector<std::string>{cluster->node()});

  const std::string script = cluster->dir() + "/resv.sh";
  { std::ofstream(script) << "#!/bin/sh\nsleep 60\n"; }
  JobSpec spec;
  spec.name = "scn-resv";
  spec.nodelist = cluster->node();
  spec.reservation = "scn-platform";
  spec.nice = 10000;  // what --slurm-idle-only submits with
  spec.time_limit_min = 2;
  spec.working_dir = cluster->dir();
  spec.output_path = cluster->dir() + "/resv.out";
  spec.script_path = script;
  auto id = client.submit(spec);
  REQUIRE_MESSAGE(id.is_ok(), id.status().to_string());
  std::optional<SlurmJob> job = wait_job(client, *id, running);
  REQUIRE(job);
  CHECK(job->state == "RUNNING");
  CHECK(client.cancel(*id).is_ok());
  auto gone = client.run("scontrol", {"delete", "ReservationName=scn-platform"});
  CHECK(gone.is_ok());
}

}  // namespace
}  // namespace scn::node_agent::slurm
