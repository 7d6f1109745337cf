// Parsers of Slurm 22.05 command output (the agent reads Slurm only through
// its commands: sinfo, squeue, sbatch, scancel).
//
// Contract:
//  - parse_sinfo_json() reads `sinfo --json` (OpenAPI v0.0.38 "nodes"): one
//    SlurmNode per node with name, NodeAddr, CPUs total/allocated, memory
//    total/allocated (MB), GRES GPUs (type and count) and used GPUs, the
//    base state in lower case ("idle", "mixed", "allocated", "down", ...)
//    with "drain" replacing it when the DRAIN flag is set, the reason and
//    the partitions.
//  - parse_squeue_json() reads `squeue --json`: every job the controller
//    still knows (running, pending and, within MinJobAge, finished ones) with
//    id, name, state (upper case as Slurm prints it: RUNNING, PENDING,
//    COMPLETED, CANCELLED, FAILED, TIMEOUT, PREEMPTED, NODE_FAIL, ...),
//    reason, node list, CPUs, memory per node (MB), time limit (minutes,
//    0 = none), start/end times (unix seconds), user.
//  - parse_gres() reads a GRES string such as "gpu:a100:4(S:0-1),gpu:2" into
//    the GPU entries (other GRES kinds are ignored; the type is "" when
//    absent). count_gres_gpus() sums the counts.
//  - parse_sbatch_parsable() reads `sbatch --parsable` ("123" or
//    "123;cluster").
//  - job_state_is_active(): PENDING, CONFIGURING, RUNNING, COMPLETING,
//    SUSPENDED, REQUEUED, RESIZING, SIGNALING, STAGE_OUT.
//  - Parsers never throw; malformed input is kInvalidArgument naming what.
//    A JSON answer with a non-empty "errors" array (22.05 exits 0 that way
//    when the controller cannot be reached) is kUnavailable.
//  - controller_unreachable(): whether a command's stderr says the
//    controller could not be reached (the client maps it to kUnavailable).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scn::node_agent::slurm {

struct SlurmGpu {
  std::string type;  // "a100", or "" when the GRES names none
  int count = 0;
  bool operator==(const SlurmGpu&) const = default;
};

struct SlurmNode {
  std::string name;
  std::string address;  // NodeAddr
  int cpus = 0;
  int alloc_cpus = 0;
  std::int64_t real_memory_mb = 0;
  std::int64_t alloc_memory_mb = 0;
  std::vector<SlurmGpu> gpus;
  int gpus_used = 0;
  std::string state;  // lower case
  std::vector<std::string> state_flags;  // upper case as Slurm prints them
  std::string reason;
  std::vector<std::string> partitions;
};

struct SlurmJob {
  std::int64_t job_id = 0;
  std::string name;
  std::string state;   // upper case
  std::string reason;  // "None" when Slurm gives none
  std::string nodes;   // node list ("" while pending)
  std::string batch_host;
  std::string partition;
  std::string user;
  int cpus = 0;
  std::int64_t memory_mb = 0;  // per node
  std::int64_t time_limit_min = 0;
  std::int64_t start_time = 0;
  std::int64_t end_time = 0;
};

Result<std::vector<SlurmNode>> parse_sinfo_json(std::string_view text);
Result<std::vector<SlurmJob>> parse_squeue_json(std::string_view text);
std::vector<SlurmGpu> parse_gres(std::string_view gres);
int count_gres_gpus(std::string_view gres);
Result<std::int64_t> parse_sbatch_parsable(std::string_view text);
bool job_state_is_active(std::string_view state);
// The Nodes= host list expression of `scontrol -o show reservation R`
// ("node[01-04],gpu1"); kNotFound when the text names no reservation.
Result<std::string> parse_reservation_nodes(std::string_view text);
bool controller_unreachable(std::string_view stderr_text);

}  // namespace scn::node_agent::slurm
