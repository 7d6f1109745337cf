#include "node-agent/slurm/slurm_client.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/process/subprocess.h"

namespace scn::node_agent::slurm {
namespace fs = std::filesystem;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s.size() > 400 ? s.substr(0, 400) + "..." : s;
}

}  // namespace

std::vector<std::string> sbatch_args(const JobSpec& spec) {
  std::vector<std::string> a = {"--parsable", "--job-name", spec.name, "-c", std::to_string(std::max(1, spec.cpus))};
  if (spec.memory_mb > 0) a.insert(a.end(), {"--mem", std::to_string(spec.memory_mb)});
  if (spec.gpus > 0) a.push_back("--gres=gpu:" + std::to_string(spec.gpus));
  if (spec.time_limit_min > 0) a.insert(a.end(), {"--time", std::to_string(spec.time_limit_min)});
  if (!spec.nodelist.empty()) a.insert(a.end(), {"--nodelist", spec.nodelist});
  if (!spec.account.empty()) a.insert(a.end(), {"--account", spec.account});
  if (!spec.partition.empty()) a.insert(a.end(), {"--partition", spec.partition});
  if (!spec.reservation.empty()) a.insert(a.end(), {"--reservation", spec.reservation});
  if (spec.nice > 0) a.push_back("--nice=" + std::to_string(spec.nice));
  if (!spec.output_path.empty()) a.insert(a.end(), {"--output", spec.output_path});
  if (!spec.working_dir.empty()) a.insert(a.end(), {"--chdir", spec.working_dir});
  a.push_back(spec.script_path);
  return a;
}

SlurmClient::SlurmClient(SlurmClientOptions options) : options_(std::move(options)) {}

Result<SlurmClient::Output> SlurmClient::run(const std::string& program,
                                             const std::vector<std::string>& args,
                                             const std::vector<std::pair<std::string, std::string>>& env) const {
  static std::atomic<std::uint64_t> counter{0};
  const std::string base = (fs::path(options_.scratch_dir) /
                            ("scn-slurm-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                               .string();
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::string exe = options_.bin_dir.empty() ? program : (fs::path(options_.bin_dir) / program).string();
  // stdout to the log file; stderr apart, through the shell's redirection.
  process::SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>\"$SCN_SLURM_STDERR\"", exe};
  so.argv.insert(so.argv.end(), args.begin(), args.end());
  so.env.emplace_back("SCN_SLURM_STDERR", err_path);
  so.env.insert(so.env.end(), env.begin(), env.end());
  so.log_path = out_path;
  so.kill_with_parent = false;  // short-lived; may be started from any thread
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove(out_path, ec);
    fs::remove(err_path, ec);
  };
  auto child = process::Subprocess::spawn(so);
  if (!child.is_ok()) {
    cleanup();
    return child.status().with_context(program);
  }
  auto status = child.value()->wait_for(options_.timeout);
  if (!status) {
    child.value()->terminate(std::chrono::milliseconds(1000));
    cleanup();
    return Status::unavailable(program + " did not answer within " +
                               std::to_string(options_.timeout.count()) + " ms (Slurm controller unreachable?)");
  }
  Output out;
  out.exit_status = *status;
  out.out = read_all(out_path);
  out.err = read_all(err_path);
  cleanup();
  if (out.exit_status == 127) return Status::not_found(program + ": command not found (is Slurm installed?)");
  return out;
}

Status SlurmClient::failure(const std::string& what, const Output& out) const {
  std::string msg = what + " exited with status " + std::to_string(out.exit_status) + ": " + trimmed(out.err);
  if (controller_unreachable(out.err)) return Status::unavailable("Slurm controller unreachable: " + msg);
  return Status::internal(msg);
}

Result<std::vector<SlurmNode>> SlurmClient::nodes() const {
  SCN_ASSIGN_OR_RETURN(Output out, run("sinfo", {"--json"}));
  if (out.exit_status != 0) return failure("sinfo --json", out);
  return parse_sinfo_json(out.out);
}

Result<std::vector<SlurmJob>> SlurmClient::jobs() const {
  SCN_ASSIGN_OR_RETURN(Output out, run("squeue", {"--json"}));
  if (out.exit_status != 0) return failure("squeue --json", out);
  return parse_squeue_json(out.out);
}

Result<std::int64_t> SlurmClient::submit(const JobSpec& spec) const {
  SCN_ASSIGN_OR_RETURN(Output out, run("sbatch", sbatch_args(spec), spec.env));
  if (out.exit_status != 0) return failure("sbatch", out);
  return parse_sbatch_parsable(out.out);
}

Status SlurmClient::cancel(std::int64_t job_id) const {
  auto out = run("scancel", {std::to_string(job_id)});
  if (!out.is_ok()) return out.status();
  if (out->exit_status != 0) {
    // An already finished job: "Job/step already completing or completed"
    // or "Invalid job id specified".
    if (out->err.find("already complet") != std::string::npos ||
        out->err.find("Invalid job id") != std::string::npos) {
      return Status::ok();
    }
    return failure("scancel", out.value());
  }
  return Status::ok();
}

Result<std::vector<std::string>> SlurmClient::reservation_nodes(const std::string& reservation) const {
  SCN_ASSIGN_OR_RETURN(Output out, run("scontrol", {"-o", "show", "reservation", reservation}));
  if (out.exit_status != 0) {
    if (out.err.find("not found") != std::string::npos || out.out.find("not found") != std::string::npos) {
      return Status::not_found("Slurm reservation " + reservation + " not found");
    }
    return failure("scontrol show reservation", out);
  }
  SCN_ASSIGN_OR_RETURN(std::string expr, parse_reservation_nodes(out.out));
  SCN_ASSIGN_OR_RETURN(Output hosts, run("scontrol", {"show", "hostnames", expr}));
  if (hosts.exit_status != 0) return failure("scontrol show hostnames", hosts);
  std::vector<std::string> names;
  std::stringstream ss(hosts.out);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace scn::node_agent::slurm
