#include "node-agent/slurm/slurm_supervisor.h"

#include "common/crypto/worker_secret.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/http/client.h"
#include "common/json.h"
#include "common/log.h"
#include "common/process/subprocess.h"
#include "node-agent/slurm/slurm_supervisor_internal.h"

namespace scn::node_agent::slurm {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return {};
}

// Single-quoted for sh.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace

std::string SlurmSupervisor::job_script(const std::vector<std::string>& infer_argv, const std::string& jobs_dir) {
  std::string s = "#!/bin/sh\n# An scn replica, submitted by `scn agent --slurm`.\nexec";
  for (const auto& a : infer_argv) s += " " + quoted(a);
  s += " --port-file " + quoted(jobs_dir + "/") + "\"$SLURM_JOB_ID\".port\n";
  return s;
}

SlurmSupervisor::SlurmSupervisor(SlurmSupervisorOptions options, const SlurmClient& client, ModelCache& cache)
    : options_(std::move(options)), client_(client), cache_(cache) {
  infer_binary_ = options_.infer_binary.empty() ? process::self_executable() : options_.infer_binary;
  user_ = current_user();
  std::error_code ec;
  fs::create_directories(jobs_dir(), ec);
  thread_ = std::thread([this] { loop(); });
}

SlurmSupervisor::~SlurmSupervisor() {
  stop_all();
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string SlurmSupervisor::jobs_dir() const { return (fs::path(options_.state_dir) / "jobs").string(); }

void SlurmSupervisor::set_desired(const std::string& slurm_node, std::vector<DesiredReplica> desired) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, DesiredReplica> next;
    for (auto& d : desired) {
      std::string id = d.replica_id;
      next[id] = std::move(d);
    }
    auto& cur = desired_[slurm_node];
    wake = !desired_known_ || cur.size() != next.size() ||
           !std::equal(cur.begin(), cur.end(), next.begin(), [](const auto& a, const auto& b) { return a.first == b.first; });
    cur = std::move(next);
    desired_known_ = true;
  }
  if (wake) cv_.notify_all();
}

std::vector<ReplicaReport> SlurmSupervisor::report(const std::string& slurm_node) {
  std::lock_guard lock(mu_);
  std::vector<ReplicaReport> out;
  for (const auto& [id, r] : replicas_) {
    if (r.node != slurm_node) continue;
    ReplicaReport rep;
    rep.replica_id = id;
    rep.state = r.state;
    if (r.port > 0) rep.port = r.port;
    rep.reason = r.reason;
    rep.restarts = r.restarts;
    out.push_back(std::move(rep));
  }
  auto it = stopped_.find(slurm_node);
  if (it != stopped_.end()) {
    for (auto& s : it->second) out.push_back(std::move(s));
    stopped_.erase(it);
  }
  return out;
}

std::map<std::string, SlurmNodeView> SlurmSupervisor::nodes() const {
  std::lock_guard lock(mu_);
  return nodes_;
}

bool SlurmSupervisor::controller_ok() const {
  std::lock_guard lock(mu_);
  return controller_ok_;
}

bool SlurmSupervisor::polled() const {
  std::lock_guard lock(mu_);
  return polled_;
}

int SlurmSupervisor::threads_desired(const std::string& slurm_node) const {
  std::lock_guard lock(mu_);
  int n = 0;
  if (auto it = desired_.find(slurm_node); it != desired_.end()) {
    for (const auto& [id, d] : it->second) n += std::max(1, d.cpu_threads);
  }
  return n;
}

std::int64_t SlurmSupervisor::memory_desired_mb(const std::string& slurm_node) const {
  std::lock_guard lock(mu_);
  std::int64_t n = 0;
  if (auto it = desired_.find(slurm_node); it != desired_.end()) {
    for (const auto& [id, d] : it->second) n += (d.memory_bytes + (1 << 20) - 1) >> 20;
  }
  return n;
}

std::optional<std::int64_t> SlurmSupervisor::job_of(const std::string& replica_id) const {
  std::lock_guard lock(mu_);
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end() || !it->second.current) return std::nullopt;
  return it->second.current->id;
}

void SlurmSupervisor::set_on_change(std::function<void()> on_change) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(on_change);
}

void SlurmSupervisor::stop_all() {
  {
    std::lock_guard lock(mu_);
    stop_all_ = true;
    desired_.clear();
  }
  cv_.notify_all();
  // Bounded: with the controller unreachable the jobs cannot be cancelled.
  // Forgotten replicas' scancels run after the poll that forgot them: wait
  // for one more complete poll.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::optional<std::uint64_t> emptied_at;
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      if (quit_) break;
      if (replicas_.empty() && draining_.empty()) {
        if (!emptied_at) emptied_at = polls_;
        else if (polls_ >= *emptied_at + 2) break;
      } else {
        emptied_at.reset();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::lock_guard lock(mu_);
  stop_all_ = false;
}

void SlurmSupervisor::loop() {
  std::unique_lock lock(mu_);
  while (!quit_) {
    lock.unlock();
    poll_once();
    lock.lock();
    if (quit_) break;
    cv_.wait_for(lock, stop_all_ ? std::chrono::milliseconds(200) : options_.poll_interval);
  }
}

Result<std::int64_t> SlurmSupervisor::submit(const Replica& r) {
  const std::string dir = jobs_dir();
  std::vector<std::string> argv = infer_command(infer_binary_, r.spec, r.model_path, 0, "0.0.0.0",
                                                !r.spec.gpu_indices.empty());
  const std::string script_path = dir + "/" + r.spec.replica_id + ".sh";
  {
    std::ofstream out(script_path, std::ios::trunc);
    out << job_script(argv, dir);
    if (!out) return Status::io_error("write " + script_path);
  }
  fs::permissions(script_path, fs::perms::owner_all, fs::perm_options::add);
  JobSpec spec;
  spec.name = std::string(kJobPrefix) + r.spec.replica_id;
  spec.cpus = std::max(1, r.spec.cpu_threads);
  spec.memory_mb = (r.spec.memory_bytes + (1 << 20) - 1) >> 20;
  spec.gpus = static_cast<int>(r.spec.gpu_indices.size());
  spec.time_limit_min = std::max<std::int64_t>(1, (options_.time_limit.count() + 59) / 60);
  spec.nodelist = r.node;
  spec.account = options_.account;
  spec.partition = options_.partition;
  spec.reservation = options_.reservation;
  spec.nice = options_.idle_only ? 10000 : 0;
  spec.output_path = dir + "/%j.log";
  spec.working_dir = dir;
  spec.script_path = script_path;
  spec.env = crypto::worker_env(r.spec.worker_secret);
  return client_.submit(spec);
}

void SlurmSupervisor::probe(Work& work) {
  for (auto& p : work.probes) {
    auto res = http::request("GET", p.url, {}, {}, std::chrono::milliseconds(1000));
    if (!res.is_ok() || res->status != 200) continue;
    p.ok = true;
    auto o = common::parse_json_object(res->body);
    if (o.is_ok()) {
      auto queued = common::get_int(o.value(), "queued", 0);
      auto running = common::get_int(o.value(), "running", 0);
      if (queued.is_ok() && running.is_ok()) p.outstanding = static_cast<int>(*queued + *running);
    }
  }
}

void SlurmSupervisor::poll_once() {
  auto nodes = client_.nodes();
  auto jobs = nodes.is_ok() ? client_.jobs() : Result<std::vector<SlurmJob>>(nodes.status());
  const auto now = Clock::now();
  Work work;
  {
    std::lock_guard lock(mu_);
    const bool ok = nodes.is_ok() && jobs.is_ok();
    if (!ok) {
      const Status& st = nodes.is_ok() ? jobs.status() : nodes.status();
      if (controller_ok_) common::log_warn("slurm: ", st.to_string(), "; keeping replicas as they are");
      work.changed = controller_ok_;
      controller_ok_ = false;
    } else {
      if (!controller_ok_) common::log_info("slurm: controller reachable again");
      work.changed |= !controller_ok_;
      controller_ok_ = true;
      polled_ = true;
      for (auto& [name, v] : nodes_) v.listed = false;
      for (const auto& n : *nodes) {
        auto& v = nodes_[n.name];
        v.node = n;
        v.listed = true;
        v.our_cpus = 0;
        v.our_memory_mb = 0;
      }
      for (const auto& j : *jobs) {
        if (j.name.rfind(kJobPrefix, 0) != 0 || (!user_.empty() && j.user != user_) ||
            (j.state != "RUNNING" && j.state != "COMPLETING" && j.state != "SUSPENDED")) {
          continue;
        }
        auto it = nodes_.find(j.batch_host.empty() ? first_node(j.nodes) : j.batch_host);
        if (it == nodes_.end()) continue;
        it->second.our_cpus += j.cpus;
        it->second.our_memory_mb += j.memory_mb;
      }
      const bool recovered = work.changed;
      work = plan(true, *jobs, now);
      work.changed |= recovered;
    }
    if (!ok) {
      static const std::vector<SlurmJob> kNone;
      bool changed = work.changed;
      work = plan(false, kNone, now);  // model fetching and removals only: nothing to submit or cancel
      work.changed |= changed;
      work.cancel.clear();
    }
  }
  if (!controller_ok()) {
    // Forgotten replicas' jobs are retried by the orphan sweep once Slurm answers.
  } else {
    for (auto id : work.cancel) {
      if (Status st = client_.cancel(id); !st.is_ok()) common::log_warn("slurm: scancel ", id, ": ", st.to_string());
    }
  }
  // Submissions, outside the lock.
  struct Submitted {
    Work::Submit what;
    Result<std::int64_t> id;
  };
  std::vector<Submitted> done;
  for (auto& s : work.submit) {
    Replica r;
    r.spec = s.spec;
    r.node = s.node;
    r.model_path = s.model_path;
    auto id = submit(r);
    if (id.is_ok()) {
      common::log_info("slurm: replica ", s.replica_id, s.replacement ? " (replacement)" : "", ": job ", *id,
                       " on ", s.node);
    }
    done.push_back({std::move(s), std::move(id)});
  }
  probe(work);
  std::function<void()> on_change;
  {
    std::lock_guard lock(mu_);
    const auto t = Clock::now();
    for (auto& d : done) {
      auto it = replicas_.find(d.what.replica_id);
      if (it == replicas_.end()) {
        if (d.id.is_ok()) (void)client_.cancel(*d.id);
        continue;
      }
      Replica& r = it->second;
      r.submitting = false;
      auto dn = desired_.find(r.node);
      const bool wanted = !stop_all_ && dn != desired_.end() && dn->second.count(d.what.replica_id);
      if (!d.id.is_ok()) {
        common::log_warn("slurm: replica ", d.what.replica_id, ": ", d.id.status().to_string());
        r.retry_at = t + kSubmitRetry;
        if (d.id.status().code() == Code::kUnavailable) {
          controller_ok_ = false;
        } else if (!d.what.replacement) {
          r.state = ReplicaState::kFailed;
          r.reason = "sbatch: " + d.id.status().message();
          work.changed = true;
        }
        continue;
      }
      Job job;
      job.id = *d.id;
      job.submitted = t;
      if (!wanted) {
        work.cancel.push_back(job.id);
        (void)client_.cancel(job.id);
        continue;
      }
      if (d.what.replacement) {
        r.replacement = job;
      } else {
        r.current = job;
        r.state = ReplicaState::kStarting;
        r.reason = "submitted Slurm job " + std::to_string(job.id);
        work.changed = true;
      }
    }
    auto find_job = [&](const std::string& replica_id, std::int64_t job_id) -> Job* {
      if (replica_id.empty()) {
        for (auto& [rid, j] : draining_) {
          if (j.id == job_id) return &j;
        }
        return nullptr;
      }
      auto it = replicas_.find(replica_id);
      if (it == replicas_.end()) return nullptr;
      if (it->second.current && it->second.current->id == job_id) return &*it->second.current;
      if (it->second.replacement && it->second.replacement->id == job_id) return &*it->second.replacement;
      return nullptr;
    };
    for (const auto& p : work.probes) {
      Job* job = find_job(p.replica_id, p.job_id);
      if (!job) continue;
      if (p.replica_id.empty()) {
        job->outstanding = p.ok ? p.outstanding : 0;  // a worker that does not answer has nothing to finish
        continue;
      }
      if (p.ok && !job->healthy) {
        job->healthy = true;
        auto& r = replicas_[p.replica_id];
        if (r.current && r.current->id == p.job_id) {
          r.state = ReplicaState::kReady;
          r.port = job->port;
          r.reason.clear();
          common::log_info("slurm: replica ", p.replica_id, " ready (job ", p.job_id, ", ", p.url, ")");
          work.changed = true;
        }
      }
    }
    if (work.changed) on_change = on_change_;
    ++polls_;
  }
  if (on_change) on_change();
}

}  // namespace scn::node_agent::slurm
