// SlurmClient: the Slurm commands the agent runs on a login node (sinfo,
// squeue, sbatch, scancel), each a real process with a timeout, their output
// parsed by slurm_parse.h.
//
// Contract:
//  - Every call runs one command (found in options.bin_dir when set, else in
//    PATH) with the agent's environment (SLURM_CONF and the like are
//    inherited) and waits at most options.timeout; then it is killed.
//  - Errors: the controller cannot be reached (the command's stderr says so,
//    or it timed out) -> kUnavailable; a command that is missing ->
//    kNotFound; any other non-zero exit -> kInternal with its stderr;
//    unparsable output -> kInvalidArgument.
//  - submit() writes nothing itself: the batch script is spec.script_path.
//    The command line is `sbatch --parsable --job-name N -c CPUS --mem MB
//    [--gres=gpu:G] --time MIN [--nodelist X] [--account A] [--partition P]
//    [--reservation R] [--nice=N] --output F --chdir D SCRIPT`.
//  - cancel() of a job that already ended is OK.
//  - Thread-safe (no state besides the options).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "node-agent/slurm/slurm_parse.h"

namespace scn::node_agent::slurm {

struct SlurmClientOptions {
  std::string bin_dir;  // "" -> PATH
  std::chrono::milliseconds timeout{15'000};
  std::string scratch_dir = "/tmp";  // for the commands' captured output
};

struct JobSpec {
  std::string name;
  int cpus = 1;
  std::int64_t memory_mb = 0;  // 0: Slurm's default
  int gpus = 0;
  std::int64_t time_limit_min = 0;  // 0: the partition's default
  std::string nodelist;
  std::string account;
  std::string partition;
  std::string reservation;
  int nice = 0;
  std::string output_path;
  std::string working_dir;
  std::string script_path;
  // Extra environment of the sbatch process; sbatch exports its whole
  // environment to the job (its default --export=ALL), so secrets such as
  // SCN_WORKER_SECRET reach the job without being on a command line or in
  // the script file.
  std::vector<std::pair<std::string, std::string>> env;
};

// The sbatch arguments (after "sbatch") for a spec (exposed for tests).
std::vector<std::string> sbatch_args(const JobSpec& spec);

class SlurmClient {
 public:
  explicit SlurmClient(SlurmClientOptions options = {});

  Result<std::vector<SlurmNode>> nodes() const;
  Result<std::vector<SlurmJob>> jobs() const;
  Result<std::int64_t> submit(const JobSpec& spec) const;
  Status cancel(std::int64_t job_id) const;
  // The nodes of a reservation (`scontrol -o show reservation R`, expanded
  // with `scontrol show hostnames`); kNotFound for an unknown reservation.
  Result<std::vector<std::string>> reservation_nodes(const std::string& reservation) const;

  struct Output {
    int exit_status = 0;
    std::string out;
    std::string err;
  };
  // Runs `program args...` (program looked up in bin_dir/PATH); a timeout or
  // a failure to start is the Status, a non-zero exit is in Output.
  Result<Output> run(const std::string& program, const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::string>>& env = {}) const;

 private:
  Status failure(const std::string& what, const Output& out) const;
  SlurmClientOptions options_;
};

}  // namespace scn::node_agent::slurm
