#include "node-agent/supervisor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/crypto/worker_secret.h"
#include "common/http/client.h"
#include "common/log.h"

namespace scn::node_agent {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The last non-empty line of a file (its last 4 KiB).
std::string last_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - 4096);
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
    tail.pop_back();
  }
  size_t nl = tail.rfind('\n');
  return nl == std::string::npos ? tail : tail.substr(nl + 1);
}

bool can_bind(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = htonl(INADDR_ANY);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string join_ints(const std::vector<int>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out;
}

}  // namespace

std::vector<std::string> infer_command(const std::string& infer_binary, const DesiredReplica& spec,
                                       const std::string& model_path, int port,
                                       const std::string& bind_host, bool use_gpus) {
  std::vector<std::string> argv = {
      infer_binary, "infer",
      "--model", model_path,
      "--port", std::to_string(port),
      "--host", bind_host,
      "--threads", std::to_string(std::max(1, spec.cpu_threads)),
      "--ctx", std::to_string(std::max(0, spec.context_length)),
      "--alias", spec.service_name.empty() ? spec.replica_id : spec.service_name,
      "--log-level", "warn"};
  // The replica's GPUs when this build and machine can use them, else the
  // CPU (scn infer logs which and why).
  if (use_gpus) argv.insert(argv.end(), {"--device", "auto"});
  return argv;
}

std::string_view replica_state_name(ReplicaState state) {
  switch (state) {
    case ReplicaState::kStarting: return "starting";
    case ReplicaState::kReady: return "ready";
    case ReplicaState::kFailed: return "failed";
    case ReplicaState::kStopped: return "stopped";
  }
  return "failed";
}

Supervisor::Supervisor(SupervisorOptions options, ModelCache& cache)
    : options_(std::move(options)), cache_(cache) {
  infer_binary_ = options_.infer_binary.empty() ? process::self_executable() : options_.infer_binary;
  if (!options_.log_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options_.log_dir, ec);
  }
  thread_ = std::thread([this] { loop(); });
}

Supervisor::~Supervisor() {
  stop_all();
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Supervisor::set_desired(std::vector<DesiredReplica> desired) {
  {
    std::lock_guard lock(mu_);
    desired_.clear();
    for (auto& d : desired) {
      std::string id = d.replica_id;
      desired_[id] = std::move(d);
    }
  }
  cv_.notify_all();
}

std::vector<ReplicaReport> Supervisor::report() {
  std::lock_guard lock(mu_);
  std::vector<ReplicaReport> out;
  for (const auto& [id, r] : replicas_) {
    ReplicaReport rep;
    rep.replica_id = id;
    rep.state = r.state;
    if (r.port > 0) rep.port = r.port;
    rep.reason = r.reason;
    rep.restarts = r.restarts;
    out.push_back(std::move(rep));
  }
  for (auto& s : stopped_) out.push_back(std::move(s));
  stopped_.clear();
  return out;
}

int Supervisor::threads_in_use() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [id, r] : replicas_) {
    if (!r.stopping) n += std::max(1, r.spec.cpu_threads);
  }
  return n;
}

std::optional<pid_t> Supervisor::pid_of(const std::string& replica_id) const {
  std::lock_guard lock(mu_);
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end() || !it->second.child || it->second.child->exit_status()) {
    return std::nullopt;
  }
  return it->second.child->pid();
}

void Supervisor::set_on_change(std::function<void()> on_change) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(on_change);
}

void Supervisor::stop_all() {
  {
    std::lock_guard lock(mu_);
    desired_.clear();
  }
  cv_.notify_all();
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (replicas_.empty() || quit_) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string Supervisor::log_path(const std::string& replica_id) const {
  if (options_.log_dir.empty()) return {};
  return (fs::path(options_.log_dir) / (replica_id + ".log")).string();
}

int Supervisor::pick_port(const Replica& r) const {
  std::set<int> used;
  for (const auto& [id, o] : replicas_) {
    if (id == r.spec.replica_id) continue;
    if (o.port > 0) used.insert(o.port);
    if (o.spec.port) used.insert(*o.spec.port);
  }
  for (const auto& [id, d] : desired_) {
    if (id != r.spec.replica_id && d.port) used.insert(*d.port);
  }
  if (r.port > 0 && !used.count(r.port) && can_bind(options_.bind_host, r.port)) return r.port;
  const int span = options_.port_max - options_.port_min + 1;
  if (span <= 0) return 0;
  // Start at a place derived from the replica id, so agents sharing a range
  // on one machine rarely race for the same port.
  const int start = static_cast<int>(std::hash<std::string>{}(r.spec.replica_id) % span);
  for (int i = 0; i < span; ++i) {
    int p = options_.port_min + (start + i) % span;
    if (!used.count(p) && can_bind(options_.bind_host, p)) return p;
  }
  return 0;
}

bool Supervisor::start_child(Replica& r, const std::string& model_path) {
  const auto now = Clock::now();
  int port = r.spec.port ? *r.spec.port : pick_port(r);
  auto fail = [&](const std::string& why) {
    r.state = ReplicaState::kFailed;
    r.reason = why;
    ++r.failures_in_row;
    auto delay = options_.backoff_initial * (1 << std::min(r.failures_in_row - 1, 16));
    r.restart_at = now + std::min<std::chrono::milliseconds>(delay, options_.backoff_max);
    common::log_warn("supervisor: replica ", r.spec.replica_id, ": ", why);
    return true;
  };
  if (port <= 0) {
    return fail("no free port in " + std::to_string(options_.port_min) + "-" +
                std::to_string(options_.port_max));
  }
  r.port = port;
  process::SpawnOptions so;
  const bool use_gpus = !options_.simulated && !r.spec.gpu_indices.empty();
  so.argv = infer_command(infer_binary_, r.spec, model_path, port, options_.bind_host, use_gpus);
  if (!options_.worker_tls_cert.empty())
    so.argv.insert(so.argv.end(), {"--tls-cert", options_.worker_tls_cert, "--tls-key", options_.worker_tls_key});
  if (use_gpus) so.env.emplace_back("CUDA_VISIBLE_DEVICES", join_ints(r.spec.gpu_indices));
  for (auto& kv : crypto::worker_env(r.spec.worker_secret)) so.env.push_back(std::move(kv));
  so.log_path = log_path(r.spec.replica_id);
  auto child = process::Subprocess::spawn(so);
  if (!child.is_ok()) return fail("cannot start " + infer_binary_ + ": " + child.status().message());
  r.child = std::move(child).value();
  r.state = ReplicaState::kStarting;
  r.reason.clear();
  r.next_health = now + options_.health_interval;
  common::log_info("supervisor: replica ", r.spec.replica_id, " started (pid ", r.child->pid(),
                   ", port ", port, ")");
  return true;
}

bool Supervisor::child_exited(Replica& r, int status, Clock::time_point now) {
  if (r.state == ReplicaState::kReady && now - r.ready_since >= options_.stable_after) {
    r.failures_in_row = 0;
  }
  ++r.failures_in_row;
  auto delay = options_.backoff_initial * (1 << std::min(r.failures_in_row - 1, 16));
  r.restart_at = now + std::min<std::chrono::milliseconds>(delay, options_.backoff_max);
  r.state = ReplicaState::kFailed;
  r.reason = "exited with status " + std::to_string(status);
  std::string line = last_line(log_path(r.spec.replica_id));
  if (!line.empty()) r.reason += ": " + line;
  r.child.reset();
  common::log_warn("supervisor: replica ", r.spec.replica_id, " ", r.reason);
  return true;
}

bool Supervisor::step(Replica& r, Clock::time_point now) {
  if (r.fetching) {
    if (auto path = cache_.ensure(r.spec.model)) {
      r.fetching = false;
      return start_child(r, *path);
    }
    auto st = cache_.state(r.spec.model.model_file_id);
    ReplicaState state = ReplicaState::kStarting;
    std::string reason = "fetching model file";
    if (st && st->state == FileState::kFailed) {
      state = ReplicaState::kFailed;
      reason = "model file: " + st->reason;
    }
    bool changed = state != r.state || reason != r.reason;
    r.state = state;
    r.reason = reason;
    return changed;
  }
  if (r.child) {
    if (auto status = r.child->poll()) return child_exited(r, *status, now);
    return false;
  }
  if (r.state == ReplicaState::kFailed && now >= r.restart_at) {
    ++r.restarts;
    auto path = cache_.ensure(r.spec.model);
    if (!path) {
      r.fetching = true;
      return step(r, now);
    }
    return start_child(r, *path);
  }
  return false;
}

void Supervisor::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, options_.tick);
    const auto now = Clock::now();
    bool changed = false;
    for (const auto& [id, d] : desired_) {
      if (replicas_.count(id)) continue;
      Replica r;
      r.spec = d;
      r.reason = "fetching model file";
      replicas_.emplace(id, std::move(r));
      changed = true;
    }
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      Replica& r = it->second;
      if (!r.stopping && (quit_ || !desired_.count(it->first))) {
        r.stopping = true;
        r.kill_at = now + options_.stop_grace;
        if (r.child) r.child->signal(SIGTERM);
      }
      if (r.stopping) {
        if (r.child && !r.child->poll()) {
          if (now >= r.kill_at) r.child->signal(SIGKILL);
          ++it;
          continue;
        }
        ReplicaReport rep;
        rep.replica_id = it->first;
        rep.state = ReplicaState::kStopped;
        if (r.port > 0) rep.port = r.port;
        rep.restarts = r.restarts;
        stopped_.push_back(std::move(rep));
        common::log_info("supervisor: replica ", it->first, " stopped");
        it = replicas_.erase(it);
        changed = true;
        continue;
      }
      changed |= step(r, now);
      ++it;
    }
    if (quit_ && replicas_.empty()) return;

    // Health checks run without the lock (each may take up to a second).
    struct Probe {
      std::string id;
      int port;
    };
    std::vector<Probe> probes;
    for (auto& [id, r] : replicas_) {
      if (!r.stopping && r.child && r.state == ReplicaState::kStarting && now >= r.next_health) {
        r.next_health = now + options_.health_interval;
        probes.push_back({id, r.port});
      }
    }
    auto on_change = on_change_;
    if (!probes.empty() || changed) {
      lock.unlock();
      std::vector<std::string> healthy;
      std::string host = options_.bind_host == "0.0.0.0" ? "127.0.0.1" : options_.bind_host;
      for (const auto& p : probes) {
        const char* scheme = options_.worker_tls_cert.empty() ? "http://" : "https://";
        auto res = http::request("GET", scheme + host + ":" + std::to_string(p.port) + "/health",
                                 {}, {}, std::chrono::milliseconds(1000));
        if (res.is_ok() && res->status == 200) healthy.push_back(p.id);
      }
      lock.lock();
      for (const auto& id : healthy) {
        auto it = replicas_.find(id);
        if (it == replicas_.end()) continue;
        Replica& r = it->second;
        if (r.stopping || !r.child || r.state != ReplicaState::kStarting) continue;
        r.state = ReplicaState::kReady;
        r.ready_since = Clock::now();
        common::log_info("supervisor: replica ", id, " ready on port ", r.port);
        changed = true;
      }
      if (changed && on_change) {
        lock.unlock();
        on_change();
        lock.lock();
      }
    }
  }
}

}  // namespace scn::node_agent
