#include "node-agent/agent.h"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "common/log.h"

namespace scn::node_agent {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds kRequestTimeout{5000};
constexpr std::chrono::milliseconds kMinHeartbeatGap{200};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool parse_port(std::string_view s, int* out) {
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out >= 1 && *out <= 65535;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_labels(std::string_view text) {
  std::map<std::string, std::string> out;
  if (trim(text).empty()) return out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = trim(text.substr(begin, end - begin));
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || trim(item.substr(0, eq)).empty()) {
      return Status::invalid_argument("--labels: expected key=value, got '" + std::string(item) + "'");
    }
    out[std::string(trim(item.substr(0, eq)))] = std::string(trim(item.substr(eq + 1)));
    begin = end + 1;
  }
  return out;
}

Result<std::pair<int, int>> parse_port_range(std::string_view text) {
  size_t dash = text.find('-');
  int lo = 0, hi = 0;
  if (dash == std::string_view::npos || !parse_port(text.substr(0, dash), &lo) ||
      !parse_port(text.substr(dash + 1), &hi) || lo > hi) {
    return Status::invalid_argument("--port-range: expected LOW-HIGH within 1-65535, got '" +
                                    std::string(text) + "'");
  }
  return std::make_pair(lo, hi);
}

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions options) {
  SCN_ASSIGN_OR_RETURN(std::vector<std::string> urls, parse_scheduler_urls(options.scheduler_url));
  if (options.name.empty()) return Status::invalid_argument("--name must not be empty");
  if (options.state_dir.empty()) return Status::invalid_argument("--state-dir must not be empty");
  if (options.heartbeat_ms <= 0) return Status::invalid_argument("--heartbeat-ms must be > 0");
  if (options.port_min < 1 || options.port_max > 65535 || options.port_min > options.port_max) {
    return Status::invalid_argument("bad port range");
  }
  if (options.cache_dir.empty()) options.cache_dir = (fs::path(options.state_dir) / "models").string();
  std::error_code ec;
  fs::create_directories(options.state_dir, ec);
  if (ec) return Status::io_error("create " + options.state_dir + ": " + ec.message());
  SCN_ASSIGN_OR_RETURN(Capacity capacity, probe_capacity(options.simulate));
  common::log_info("agent: ", capacity.cpu_cores, " CPU cores; ", capacity.gpu_probe);
  return std::unique_ptr<Agent>(new Agent(std::move(options), std::move(capacity), std::move(urls)));
}

Agent::Agent(AgentOptions options, Capacity capacity, std::vector<std::string> scheduler_urls)
    : options_(std::move(options)), capacity_(std::move(capacity)),
      scheduler_(std::move(scheduler_urls), "agent"), heartbeat_ms_(options_.heartbeat_ms) {
  cache_ = std::make_unique<ModelCache>(options_.cache_dir);
  SupervisorOptions so;
  so.infer_binary = options_.infer_binary;
  so.bind_host = options_.bind_host;
  so.worker_tls_cert = options_.worker_tls_cert;
  so.worker_tls_key = options_.worker_tls_key;
  so.log_dir = (fs::path(options_.state_dir) / "logs").string();
  so.port_min = options_.port_min;
  so.port_max = options_.port_max;
  so.simulated = capacity_.simulated;
  supervisor_ = std::make_unique<Supervisor>(so, *cache_);
  auto on_change = [this] {
    {
      std::lock_guard lock(mu_);
      changed_ = true;
    }
    cv_.notify_all();
  };
  supervisor_->set_on_change(on_change);
  cache_->set_on_change(on_change);
}

Agent::~Agent() {
  supervisor_.reset();  // stops the children before the cache goes
  cache_.reset();
}

std::string Agent::credentials_path() const {
  return (fs::path(options_.state_dir) / "agent.json").string();
}

std::string Agent::node_id() const {
  std::lock_guard lock(mu_);
  return credentials_.node_id;
}

void Agent::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool Agent::wait_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [&] { return stop_; });
}

void Agent::note_outage(const std::string& what) {
  if (!in_outage_) common::log_warn("agent: ", what, "; replicas keep running, retrying");
  in_outage_ = true;
}

void Agent::note_recovered() {
  if (in_outage_) common::log_info("agent: scheduler reachable again");
  in_outage_ = false;
}

Status Agent::obtain_credentials() {
  auto loaded = load_credentials(credentials_path());
  if (loaded.is_ok()) {
    std::lock_guard lock(mu_);
    credentials_ = loaded.value();
    common::log_info("agent: node ", credentials_.node_id, " (from ", credentials_path(), ")");
    return Status::ok();
  }
  if (loaded.status().code() != Code::kNotFound) return loaded.status();
  if (options_.join_token.empty()) {
    return Status::invalid_argument("no join token: pass --join-token or set SCN_JOIN_TOKEN");
  }
  const std::string body = register_body(options_.join_token,
                                         NodeIdentity{options_.name, options_.address, options_.labels},
                                         capacity_);
  while (true) {
    auto res = scheduler_.post("/agent/v1/register", body, {{"Content-Type", "application/json"}},
                               kRequestTimeout);
    if (res.is_ok() && (res->status == 201 || res->status == 200)) {
      auto answer = parse_register_answer(res->body);
      if (!answer.is_ok()) return answer.status().with_context("register answer");
      SCN_RETURN_IF_ERROR(save_credentials(credentials_path(), answer->credentials));
      std::lock_guard lock(mu_);
      credentials_ = answer->credentials;
      heartbeat_ms_ = answer->heartbeat_ms;
      in_outage_ = false;
      common::log_info("agent: registered as node ", credentials_.node_id, " (", options_.name, ")");
      return Status::ok();
    }
    if (res.is_ok() && res->status >= 400 && res->status < 500) {
      std::string msg = "registration refused (HTTP " + std::to_string(res->status) +
                        "): " + error_message(res->body);
      if (res->status == 401) return Status::unauthenticated(msg);
      if (res->status == 409) return Status::conflict(msg);
      return Status::invalid_argument(msg);
    }
    note_outage(res.is_ok() ? "register: HTTP " + std::to_string(res->status)
                            : "register: " + res.status().to_string());
    if (wait_stopping(std::chrono::milliseconds(heartbeat_ms_))) return Status::ok();
  }
}

void Agent::heartbeat(bool* removed) {
  Credentials creds;
  {
    std::lock_guard lock(mu_);
    creds = credentials_;
  }
  int free_cores = std::max(0, capacity_.cpu_cores - supervisor_->threads_in_use());
  // A replica's "stopped" is reported once by the supervisor: keep it until a
  // heartbeat carrying it was answered.
  std::vector<ReplicaReport> replicas;
  for (auto& r : supervisor_->report()) {
    if (r.state == ReplicaState::kStopped) unsent_stopped_.push_back(std::move(r));
    else replicas.push_back(std::move(r));
  }
  for (const auto& s : unsent_stopped_) {
    bool running_again = std::any_of(replicas.begin(), replicas.end(),
                                     [&](const ReplicaReport& r) { return r.replica_id == s.replica_id; });
    if (!running_again) replicas.push_back(s);
  }
  const std::string body = heartbeat_body(creds.node_id, free_cores, available_ram_bytes(),
                                          cache_->report(), replicas);
  // A heartbeat unanswered for 4 intervals (1-5 s) is a failure: a frozen
  // scheduler instance is left early enough to reach another one before the
  // node's TTL runs out there.
  const auto heartbeat_timeout = std::clamp<std::chrono::milliseconds>(
      std::chrono::milliseconds(4 * static_cast<long long>(heartbeat_ms_)), std::chrono::milliseconds(1000),
      kRequestTimeout);
  auto res = scheduler_.post("/agent/v1/heartbeat", body,
                             {{"Content-Type", "application/json"},
                              {"Authorization", "Bearer " + creds.node_secret}},
                             heartbeat_timeout);
  if (!res.is_ok()) {
    note_outage("heartbeat: " + res.status().to_string());
    return;
  }
  if (res->status == 410) {
    *removed = true;
    return;
  }
  if (res->status != 200) {
    note_outage("heartbeat: HTTP " + std::to_string(res->status) + ": " + error_message(res->body));
    return;
  }
  note_recovered();
  unsent_stopped_.clear();
  auto answer = parse_heartbeat_answer(res->body);
  if (!answer.is_ok()) {
    common::log_warn("agent: ignoring a malformed heartbeat answer: ", answer.status().message());
    return;
  }
  {
    std::lock_guard lock(mu_);
    heartbeat_ms_ = answer->heartbeat_ms;
  }
  supervisor_->set_desired(std::move(answer->replicas));
}

Status Agent::run() {
  SCN_RETURN_IF_ERROR(obtain_credentials());
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      changed_ = false;
    }
    bool removed = false;
    heartbeat(&removed);
    const auto sent = Clock::now();
    if (removed) {
      common::log_warn("agent: the scheduler removed this node (410); stopping its replicas");
      supervisor_->stop_all();
      std::error_code ec;
      fs::remove(credentials_path(), ec);
      return Status::ok();
    }
    std::unique_lock lock(mu_);
    const auto deadline = sent + std::chrono::milliseconds(heartbeat_ms_);
    cv_.wait_until(lock, deadline, [&] { return stop_ || changed_; });
    if (stop_) break;
    if (changed_) {  // coalesce a burst of changes: at most one beat per 200 ms
      cv_.wait_until(lock, sent + kMinHeartbeatGap, [&] { return stop_; });
      if (stop_) break;
    }
  }
  common::log_info("agent: stopping");
  supervisor_->stop_all();
  return Status::ok();
}

}  // namespace scn::node_agent
