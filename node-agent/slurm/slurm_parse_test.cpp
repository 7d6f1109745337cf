// Parsers of Slurm 22.05 output, from captured real outputs (trimmed to the
// fields read; the node/job values are as slurm-wlm 22.05.8 printed them).
#include "node-agent/slurm/slurm_parse.h"

#include <doctest/doctest.h>

namespace scn::node_agent::slurm {
namespace {

// `sinfo --json` of the local test cluster with one job running (node vm),
// plus a drained GPU node in the shape sinfo prints for GRES nodes.
constexpr const char* kSinfo = R"J({
 "meta": {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
          "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"}},
 "errors": [],
 "nodes": [
  {"architecture": "x86_64", "cores": 1, "cpu_load": 158, "free_memory": 11419, "cpus": 16,
   "features": "", "gres": "", "gres_drained": "N/A", "gres_used": "", "name": "vm",
   "address": "127.0.0.1", "hostname": "vm", "state": "mixed", "state_flags": [],
   "partitions": ["scn"], "port": 40093, "real_memory": 32000, "reason": "", "sockets": 16,
   "threads": 1, "tres": "cpu=16,mem=32000M,billing=16", "slurmd_version": "22.05.8",
   "alloc_memory": 200, "alloc_cpus": 3, "idle_cpus": 13, "tres_used": null},
  {"cpus": 64, "gres": "gpu:a100:4(S:0-1)", "gres_used": "gpu:a100:1(IDX:0)", "name": "gpu01",
   "address": "10.1.0.11", "hostname": "gpu01", "state": "idle", "state_flags": ["DRAIN"],
   "partitions": ["gpu", "scn"], "real_memory": 515000, "reason": "maintenance",
   "alloc_memory": 0, "alloc_cpus": 0}
 ]
})J";

// `squeue --json` with a finished and a running job (trimmed).
constexpr const char* kSqueue = R"J({
 "meta": {"Slurm": {"release": "22.05.8"}},
 "errors": [],
 "jobs": [
  {"job_id": 1, "name": "t1", "job_state": "COMPLETED", "state_reason": "None", "nodes": "vm",
   "batch_host": "vm", "partition": "scn", "user_name": "root", "cpus": 2, "memory_per_node": 100,
   "memory_per_cpu": null, "time_limit": 1, "start_time": 1795913404, "end_time": 1795913407, "nice": null},
  {"job_id": 2, "name": "t2", "job_state": "RUNNING", "state_reason": "None", "nodes": "vm",
   "batch_host": "vm", "partition": "scn", "user_name": "root", "cpus": 3, "memory_per_node": 200,
   "memory_per_cpu": null, "time_limit": 2, "start_time": 1795913413, "end_time": 1795913533, "nice": 100},
  {"job_id": 3, "name": "scn-r1", "job_state": "PENDING", "state_reason": "Resources", "nodes": "",
   "batch_host": "", "partition": "scn", "user_name": "alice", "cpus": 4, "memory_per_node": 1024,
   "time_limit": 240, "start_time": 0, "end_time": 0}
 ]
})J";

// What 22.05 prints (exit status 0) when slurmctld is down.
constexpr const char* kSinfoDown = R"J({"meta": {}, "errors": [{"error": "Unspecified error", "errno": -1}], "nodes": []})J";
constexpr const char* kSqueueDown = R"J({"meta": {}, "errors": [{"description": "Failed while looking for jobs",
  "error_number": -1, "error": "Unspecified error", "source": "slurm_load_jobs"}], "jobs": []})J";

TEST_CASE("parse_sinfo_json reads nodes, GPUs, state and drain") {
  auto nodes = parse_sinfo_json(kSinfo);
  REQUIRE(nodes.is_ok());
  REQUIRE(nodes->size() == 2);
  const SlurmNode& vm = (*nodes)[0];
  CHECK(vm.name == "vm");
  CHECK(vm.address == "127.0.0.1");
  CHECK(vm.cpus == 16);
  CHECK(vm.alloc_cpus == 3);
  CHECK(vm.real_memory_mb == 32000);
  CHECK(vm.alloc_memory_mb == 200);
  CHECK(vm.gpus.empty());
  CHECK(vm.state == "mixed");
  CHECK(vm.partitions == std::vector<std::string>{"scn"});
  const SlurmNode& gpu = (*nodes)[1];
  CHECK(gpu.state == "drain");
  CHECK(gpu.reason == "maintenance");
  CHECK(gpu.gpus == std::vector<SlurmGpu>{{"a100", 4}});
  CHECK(gpu.gpus_used == 1);
  CHECK(gpu.partitions.size() == 2);
}

TEST_CASE("parse_squeue_json reads jobs") {
  auto jobs = parse_squeue_json(kSqueue);
  REQUIRE(jobs.is_ok());
  REQUIRE(jobs->size() == 3);
  CHECK((*jobs)[0].job_id == 1);
  CHECK((*jobs)[0].state == "COMPLETED");
  CHECK_FALSE(job_state_is_active((*jobs)[0].state));
  CHECK((*jobs)[1].state == "RUNNING");
  CHECK(job_state_is_active((*jobs)[1].state));
  CHECK((*jobs)[1].cpus == 3);
  CHECK((*jobs)[1].memory_mb == 200);
  CHECK((*jobs)[1].time_limit_min == 2);
  CHECK((*jobs)[1].end_time == 1795913533);
  CHECK((*jobs)[1].batch_host == "vm");
  CHECK((*jobs)[2].state == "PENDING");
  CHECK((*jobs)[2].reason == "Resources");
  CHECK((*jobs)[2].user == "alice");
}

TEST_CASE("a down controller's JSON is kUnavailable; garbage is kInvalidArgument") {
  CHECK(parse_sinfo_json(kSinfoDown).status().code() == Code::kUnavailable);
  auto q = parse_squeue_json(kSqueueDown);
  CHECK(q.status().code() == Code::kUnavailable);
  CHECK(q.status().message().find("Failed while looking for jobs") != std::string::npos);
  struct Case {
    const char* text;
  };
  for (const Case& c : {Case{""}, Case{"{"}, Case{"[]"}, Case{R"({"nodes": 3})"}, Case{R"({"nodes": [7]})"},
                        Case{R"({"nodes": [{"cpus": 1}]})"}}) {
    CAPTURE(c.text);
    CHECK(parse_sinfo_json(c.text).status().code() == Code::kInvalidArgument);
  }
  CHECK(parse_squeue_json(R"({"jobs": [{"name": "x"}]})").status().code() == Code::kInvalidArgument);
}

TEST_CASE("parse_gres") {
  struct Case {
    const char* text;
    std::vector<SlurmGpu> want;
  };
  for (const Case& c : {
           Case{"", {}},
           Case{"(null)", {}},
           Case{"gpu:2", {{"", 2}}},
           Case{"gpu:a100:4(S:0-1)", {{"a100", 4}}},
           Case{"gpu:a100:2(IDX:0,2),gpu:h100:1(IDX:3)", {{"a100", 2}, {"h100", 1}}},
           Case{"nic:1,gpu:v100:8", {{"v100", 8}}},
           Case{"gpu:a100:0", {}},
       }) {
    CAPTURE(c.text);
    CHECK(parse_gres(c.text) == c.want);
  }
  CHECK(count_gres_gpus("gpu:a100:2(IDX:0,2),gpu:h100:1(IDX:3)") == 3);
}

TEST_CASE("parse_sbatch_parsable") {
  CHECK(parse_sbatch_parsable("42\n").value() == 42);
  CHECK(parse_sbatch_parsable("43;cluster1\n").value() == 43);
  CHECK(parse_sbatch_parsable("sbatch: warning: x\n44\n").value() == 44);
  CHECK_FALSE(parse_sbatch_parsable("").is_ok());
  CHECK_FALSE(parse_sbatch_parsable("Submitted batch job 4").is_ok());
}

TEST_CASE("controller_unreachable") {
  CHECK(controller_unreachable(
      "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"));
  CHECK(controller_unreachable("scancel: error: Kill job error on job id 99: Unable to contact slurm controller"));
  CHECK_FALSE(controller_unreachable("sbatch: error: Batch job submission failed: Invalid account"));
}

}  // namespace
}  // namespace scn::node_agent::slurm
