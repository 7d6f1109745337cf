// SlurmSupervisor's planning half: update_job() follows one job through
// squeue's answer, plan() turns the desired replicas and Slurm's jobs into
// the Work of one poll (slurm_supervisor_internal.h). poll_once() in
// slurm_supervisor.cpp carries it out.
#include <algorithm>
#include <set>

#include "common/log.h"
#include "node-agent/slurm/slurm_supervisor.h"
#include "node-agent/slurm/slurm_supervisor_internal.h"

namespace scn::node_agent::slurm {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool SlurmSupervisor::update_job(Job& job, const std::map<std::int64_t, const SlurmJob*>& by_id,
                                 Clock::time_point now, std::string* ended) {
  auto it = by_id.find(job.id);
  if (it == by_id.end()) {
    if (job.seen || now - job.submitted > options_.missing_after) {
      *ended = "Slurm job " + std::to_string(job.id) + " is gone from squeue";
      return true;
    }
    return false;
  }
  const SlurmJob& s = *it->second;
  job.seen = true;
  bool changed = s.state != job.state || s.reason != job.reason;
  job.state = s.state;
  job.reason = s.reason;
  job.host = s.batch_host.empty() ? first_node(s.nodes) : s.batch_host;
  if (!job_state_is_active(s.state)) {
    *ended = "Slurm job " + std::to_string(job.id) + " " + s.state;
    if (!s.reason.empty() && s.reason != "None") *ended += " (" + s.reason + ")";
    return true;
  }
  if (s.state == "RUNNING") {
    job.end_time = s.end_time;
    if (job.port == 0) {
      job.port = read_port_file(jobs_dir() + "/" + std::to_string(job.id) + ".port");
      if (job.port) changed = true;
    }
  }
  return changed;
}

SlurmSupervisor::Work SlurmSupervisor::plan(bool have_jobs, const std::vector<SlurmJob>& jobs, Clock::time_point now) {
  Work w;
  const std::int64_t now_unix = static_cast<std::int64_t>(std::time(nullptr));
  std::map<std::int64_t, const SlurmJob*> by_id;
  std::map<std::string, const SlurmJob*> ours_by_name;  // active jobs named scn-*
  for (const auto& j : jobs) {
    by_id[j.job_id] = &j;
    if (j.name.rfind(kJobPrefix, 0) == 0 && (user_.empty() || j.user == user_) && job_state_is_active(j.state)) {
      ours_by_name[j.name] = &j;
    }
  }
  std::set<std::int64_t> tracked;
  auto address_of = [&](const std::string& host) {
    auto it = nodes_.find(host);
    return it != nodes_.end() && !it->second.node.address.empty() ? it->second.node.address : host;
  };
  auto want_probe = [&](const std::string& id, Job& job) {
    if (job.port <= 0 || job.healthy || now < job.next_health || job.state != "RUNNING") return;
    job.next_health = now + options_.health_interval;
    w.probes.push_back({id, job.id, "http://" + address_of(job.host) + ":" + std::to_string(job.port) + "/health"});
  };

  // New desired replicas.
  for (const auto& [node, set] : desired_) {
    for (const auto& [id, d] : set) {
      if (replicas_.count(id)) continue;
      Replica r;
      r.spec = d;
      r.node = node;
      replicas_.emplace(id, std::move(r));
      w.changed = true;
    }
  }
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    const std::string& id = it->first;
    Replica& r = it->second;
    auto dn = desired_.find(r.node);
    const bool wanted = !stop_all_ && dn != desired_.end() && dn->second.count(id);
    if (!wanted) {
      if (r.submitting) {  // its sbatch answer cancels the job
        ++it;
        continue;
      }
      for (const auto* job : {r.current ? &*r.current : nullptr, r.replacement ? &*r.replacement : nullptr}) {
        if (!job) continue;
        w.cancel.push_back(job->id);
        tracked.insert(job->id);
      }
      ReplicaReport rep;
      rep.replica_id = id;
      rep.state = ReplicaState::kStopped;
      if (r.port > 0) rep.port = r.port;
      rep.restarts = r.restarts;
      stopped_[r.node].push_back(std::move(rep));
      common::log_info("slurm: replica ", id, " stopped");
      it = replicas_.erase(it);
      w.changed = true;
      continue;
    }
    ++it;
    if (r.model_path.empty()) {
      if (auto path = cache_.ensure(r.spec.model)) {
        r.model_path = *path;
      } else {
        auto st = cache_.state(r.spec.model.model_file_id);
        ReplicaState state = ReplicaState::kStarting;
        std::string reason = "fetching model file";
        if (st && st->state == FileState::kFailed) {
          state = ReplicaState::kFailed;
          reason = "model file: " + st->reason;
        }
        w.changed |= state != r.state || reason != r.reason;
        r.state = state;
        r.reason = reason;
        continue;
      }
    }
    if (!have_jobs) continue;
    if (r.current) {
      std::string ended;
      w.changed |= update_job(*r.current, by_id, now, &ended);
      if (!ended.empty()) {
        common::log_warn("slurm: replica ", id, ": ", ended);
        r.state = ReplicaState::kFailed;
        r.reason = ended;
        r.current.reset();
        r.retry_at = now + kResubmitAfterEnd;
        w.changed = true;
        if (r.replacement) {  // the replacement takes over at once
          r.current = std::move(r.replacement);
          r.replacement.reset();
        }
      }
    }
    if (r.current) {
      tracked.insert(r.current->id);
      Job& job = *r.current;
      if (job.healthy) {
        if (r.state != ReplicaState::kReady || r.port != job.port) {
          r.state = ReplicaState::kReady;
          r.port = job.port;
          r.reason.clear();
          w.changed = true;
        }
      } else if (r.state != ReplicaState::kFailed || job.seen) {
        std::string reason = job.state == "RUNNING"
                                 ? "Slurm job " + std::to_string(job.id) + " running on " + job.host +
                                       ", waiting for /health"
                                 : "Slurm job " + std::to_string(job.id) + " " + job.state +
                                       (job.reason.empty() || job.reason == "None" ? "" : " (" + job.reason + ")");
        if (r.state != ReplicaState::kStarting || r.reason != reason) w.changed = true;
        r.state = ReplicaState::kStarting;
        r.reason = reason;
      }
      want_probe(id, job);
    } else if (!r.submitting && now >= r.retry_at) {
      auto adopt = ours_by_name.find(std::string(kJobPrefix) + id);
      if (adopt != ours_by_name.end() && !tracked.count(adopt->second->job_id)) {
        Job job;
        job.id = adopt->second->job_id;
        job.submitted = now;
        r.current = job;
        tracked.insert(job.id);
        common::log_info("slurm: replica ", id, " adopts running job ", job.id);
        std::string ignored;
        update_job(*r.current, by_id, now, &ignored);
      } else {
        if (r.state == ReplicaState::kFailed) ++r.restarts;
        r.submitting = true;
        w.submit.push_back({id, false, r.spec, r.node, r.model_path});
      }
    }
    // Walltime: a replacement before the job's end (make-before-break).
    if (r.current && r.current->healthy && r.current->end_time > 0 && !r.replacement && !r.submitting &&
        r.current->end_time - now_unix <= options_.replace_before.count() && now >= r.retry_at) {
      common::log_info("slurm: replica ", id, ": job ", r.current->id, " ends in ",
                       r.current->end_time - now_unix, " s; submitting its replacement");
      r.submitting = true;
      w.submit.push_back({id, true, r.spec, r.node, r.model_path});
    }
    if (r.replacement) {
      std::string ended;
      update_job(*r.replacement, by_id, now, &ended);
      if (!ended.empty()) {
        common::log_warn("slurm: replica ", id, ": replacement ", ended);
        r.replacement.reset();
      } else if (r.replacement->healthy && r.current) {
        common::log_info("slurm: replica ", id, " switches from job ", r.current->id, " to job ",
                         r.replacement->id, " (port ", r.replacement->port, ")");
        Job old = std::move(*r.current);
        old.drain_since = now;
        old.next_health = now;
        draining_.emplace_back(id, std::move(old));
        r.current = std::move(r.replacement);
        r.replacement.reset();
        tracked.insert(r.current->id);
        r.port = r.current->port;
        r.state = ReplicaState::kReady;
        r.reason.clear();
        w.changed = true;
      } else {
        tracked.insert(r.replacement->id);
        want_probe(id, *r.replacement);
      }
    }
  }
  // Old jobs of a walltime switch: cancelled once idle (or after the grace).
  for (auto it = draining_.begin(); it != draining_.end();) {
    Job& job = it->second;
    tracked.insert(job.id);
    std::string ended;
    if (have_jobs) update_job(job, by_id, now, &ended);
    const auto age = now - job.drain_since;
    if (!ended.empty() || stop_all_ ||
        (age >= options_.switch_delay && (job.outstanding == 0 || age >= options_.drain_grace))) {
      if (ended.empty()) {
        common::log_info("slurm: replica ", it->first, ": cancelling old job ", job.id);
        w.cancel.push_back(job.id);
      }
      it = draining_.erase(it);
      continue;
    }
    if (now >= job.next_health && job.port > 0) {
      job.next_health = now + options_.health_interval;
      w.probes.push_back({"", job.id, "http://" + address_of(job.host) + ":" + std::to_string(job.port) + "/health"});
    }
    ++it;
  }
  // Jobs of ours no replica claims (an earlier run of the agent).
  if (have_jobs && desired_known_) {
    for (const auto& [name, j] : ours_by_name) {
      bool submitting_it = false;
      for (const auto& [id, r] : replicas_) submitting_it |= r.submitting && name == std::string(kJobPrefix) + id;
      if (!tracked.count(j->job_id) && !submitting_it) {
        common::log_info("slurm: cancelling job ", j->job_id, " (", name, "): no replica of this agent");
        w.cancel.push_back(j->job_id);
      }
    }
  }
  return w;
}

}  // namespace scn::node_agent::slurm
