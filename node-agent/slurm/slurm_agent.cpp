#include "node-agent/slurm/slurm_agent.h"

#include <cctype>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/http/client.h"
#include "common/json.h"
#include "common/log.h"

namespace scn::node_agent::slurm {
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds kRequestTimeout{5000};
constexpr std::chrono::milliseconds kMinHeartbeatGap{200};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

Capacity capacity_of(const SlurmNode& n, const std::map<std::string, std::int64_t>& gpu_memory_gib) {
  Capacity c;
  c.cpu_cores = n.cpus;
  c.ram_bytes = n.real_memory_mb << 20;
  c.cpu_model = "Slurm node " + n.name;
  c.gpu_probe = "from Slurm GRES";
  for (const auto& g : n.gpus) {
    const std::string type = lower(g.type);
    std::optional<std::int64_t> gib;
    if (auto it = gpu_memory_gib.find(type); it != gpu_memory_gib.end()) gib = it->second;
    if (!gib) gib = known_gpu_memory_gib(type);
    if (!gib) {
      common::log_warn("scn agent --slurm: node ", n.name, ": GRES gpu:", g.type.empty() ? "(no type)" : g.type,
                       " left out: its memory is unknown (pass --slurm-gpu-memory ", type.empty() ? "TYPE" : type,
                       "=GiB)");
      c.gpu_probe = "from Slurm GRES; some GPUs left out: memory unknown";
      continue;
    }
    Device d;
    d.kind = "gpu";
    d.model = g.type.empty() ? "gpu" : g.type;
    d.count = g.count;
    d.memory_bytes = *gib << 30;
    c.gpus.push_back(std::move(d));
  }
  return c;
}

}  // namespace

std::optional<std::int64_t> known_gpu_memory_gib(std::string_view gres_type) {
  static const std::map<std::string, std::int64_t, std::less<>> known = {
      {"h200", 141}, {"h100", 80}, {"h800", 80}, {"a800", 80}, {"l40", 48}, {"l40s", 48}};
  auto it = known.find(lower(gres_type));
  if (it == known.end()) return std::nullopt;
  return it->second;
}

Result<std::map<std::string, std::int64_t>> parse_gpu_memory_gib(std::string_view text) {
  std::map<std::string, std::int64_t> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return Status::invalid_argument("--slurm-gpu-memory: expected TYPE=GiB, got '" + std::string(item) + "'");
    std::int64_t gib = 0;
    std::string_view num = item.substr(eq + 1);
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), gib);
    if (ec != std::errc() || p != num.data() + num.size() || gib <= 0 || gib > 65536)
      return Status::invalid_argument("--slurm-gpu-memory: '" + std::string(num) + "' is not a GiB count (1-65536)");
    out[lower(item.substr(0, eq))] = gib;
  }
  return out;
}

Result<std::chrono::seconds> parse_slurm_duration(std::string_view text) {
  // [days-]hours:minutes:seconds | minutes:seconds | minutes | days-hours[:minutes]
  auto bad = [&] {
    return Status::invalid_argument("expected a Slurm time like 4:00:00, 90 (minutes) or 1-00:00:00, got '" +
                                    std::string(text) + "'");
  };
  if (text.empty()) return bad();
  std::int64_t days = 0;
  std::string_view rest = text;
  bool has_days = false;
  if (size_t dash = rest.find('-'); dash != std::string_view::npos) {
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + dash, days);
    if (ec != std::errc() || p != rest.data() + dash || days < 0) return bad();
    rest = rest.substr(dash + 1);
    has_days = true;
  }
  std::vector<std::int64_t> parts;
  while (true) {
    size_t colon = rest.find(':');
    std::string_view part = rest.substr(0, colon);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || p != part.data() + part.size() || v < 0) return bad();
    parts.push_back(v);
    if (colon == std::string_view::npos) break;
    rest = rest.substr(colon + 1);
  }
  if (parts.size() > 3) return bad();
  std::int64_t s = 0;
  if (has_days) {  // days-hours[:minutes[:seconds]]
    static constexpr std::int64_t kScale[] = {3600, 60, 1};
    for (size_t i = 0; i < parts.size(); ++i) s += parts[i] * kScale[i];
    s += days * 86400;
  } else if (parts.size() == 1) {
    s = parts[0] * 60;
  } else if (parts.size() == 2) {
    s = parts[0] * 60 + parts[1];
  } else {
    s = parts[0] * 3600 + parts[1] * 60 + parts[2];
  }
  if (s <= 0) return bad();
  return std::chrono::seconds(s);
}

Result<std::map<std::string, Credentials>> load_slurm_credentials(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(path + " does not exist");
  std::stringstream s;
  s << in.rdbuf();
  auto o = common::parse_json_object(s.str());
  if (!o.is_ok()) return o.status().with_context(path);
  auto nodes = common::require_object(o.value(), "slurm_nodes");
  if (!nodes.is_ok()) return Status::corrupt(path + ": no \"slurm_nodes\" object (an agent.json of a plain agent?)");
  std::map<std::string, Credentials> out;
  for (const auto& [name, v] : *nodes.value()) {
    if (!v.is_object()) return Status::corrupt(path + ": slurm_nodes." + std::string(name) + " is not an object");
    Credentials c;
    auto id = common::require_string(v.as_object(), "node_id");
    auto secret = common::require_string(v.as_object(), "node_secret");
    auto center = common::get_string(v.as_object(), "center_id", "");
    if (!id.is_ok() || !secret.is_ok() || !center.is_ok() || id->empty() || secret->empty()) {
      return Status::corrupt(path + ": slurm_nodes." + std::string(name) + " lacks node_id or node_secret");
    }
    c.node_id = *id;
    c.node_secret = *secret;
    c.center_id = *center;
    out[std::string(name)] = std::move(c);
  }
  return out;
}

Status save_slurm_credentials(const std::string& path, const std::map<std::string, Credentials>& creds) {
  json::object nodes;
  for (const auto& [name, c] : creds) {
    nodes[name] = json::object{{"node_id", c.node_id}, {"node_secret", c.node_secret}, {"center_id", c.center_id}};
  }
  const std::string text = json::serialize(json::object{{"slurm_nodes", std::move(nodes)}}) + "\n";
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("create " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    fs::remove(tmp, ec);
    return Status::io_error("write " + path + ": " + std::strerror(errno));
  }
  return Status::ok();
}

Result<std::unique_ptr<SlurmAgent>> SlurmAgent::create(SlurmAgentOptions options) {
  SCN_ASSIGN_OR_RETURN(std::vector<std::string> urls, parse_scheduler_urls(options.scheduler_url));
  if (options.name.empty()) return Status::invalid_argument("--name must not be empty");
  if (options.state_dir.empty()) return Status::invalid_argument("--state-dir must not be empty");
  if (options.heartbeat_ms <= 0) return Status::invalid_argument("--heartbeat-ms must be > 0");
  if (options.supervisor.replace_before >= options.supervisor.time_limit) {
    return Status::invalid_argument("--slurm-replace-before must be shorter than --slurm-time-limit");
  }
  std::error_code ec;
  fs::create_directories(options.state_dir, ec);
  if (ec) return Status::io_error("create " + options.state_dir + ": " + ec.message());
  options.state_dir = fs::absolute(options.state_dir).string();
  if (options.cache_dir.empty()) options.cache_dir = (fs::path(options.state_dir) / "models").string();
  options.cache_dir = fs::absolute(options.cache_dir).string();
  options.supervisor.state_dir = options.state_dir;
  // The broker learns a replica's new port within a heartbeat: the old job
  // of a walltime switch serves at least two more.
  options.supervisor.switch_delay =
      std::max<std::chrono::milliseconds>(options.supervisor.switch_delay,
                                          std::chrono::milliseconds(2 * options.heartbeat_ms));
  if (options.client.scratch_dir.empty() || options.client.scratch_dir == "/tmp") {
    options.client.scratch_dir = (fs::path(options.state_dir) / "tmp").string();
    fs::create_directories(options.client.scratch_dir, ec);
  }
  auto agent = std::unique_ptr<SlurmAgent>(new SlurmAgent(std::move(options)));
  agent->scheduler_ = std::make_unique<SchedulerClient>(std::move(urls), "slurm agent");
  if (!agent->options_.supervisor.reservation.empty()) {
    auto nodes = agent->client_.reservation_nodes(agent->options_.supervisor.reservation);
    if (!nodes.is_ok()) return nodes.status().with_context("--slurm-reservation");
    agent->reservation_nodes_ = std::move(nodes).value();
  }
  auto loaded = load_slurm_credentials(agent->credentials_path());
  if (loaded.is_ok()) {
    agent->credentials_ = std::move(loaded).value();
  } else if (loaded.status().code() != Code::kNotFound) {
    return loaded.status();
  }
  agent->supervisor_ = std::make_unique<SlurmSupervisor>(agent->options_.supervisor, agent->client_, *agent->cache_);
  SlurmAgent* self = agent.get();
  auto on_change = [self] {
    {
      std::lock_guard lock(self->mu_);
      self->changed_ = true;
    }
    self->cv_.notify_all();
  };
  agent->supervisor_->set_on_change(on_change);
  agent->cache_->set_on_change(on_change);
  return agent;
}

SlurmAgent::SlurmAgent(SlurmAgentOptions options)
    : options_(std::move(options)), client_(options_.client), heartbeat_ms_(options_.heartbeat_ms) {
  cache_ = std::make_unique<ModelCache>(options_.cache_dir);
}

SlurmAgent::~SlurmAgent() {
  supervisor_.reset();
  cache_.reset();
}

std::string SlurmAgent::credentials_path() const { return (fs::path(options_.state_dir) / "agent.json").string(); }

std::map<std::string, std::string> SlurmAgent::node_ids() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [name, c] : credentials_) out[name] = c.node_id;
  return out;
}

void SlurmAgent::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool SlurmAgent::wait_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [&] { return stop_; });
}

bool slurm_node_eligible(const SlurmNodeView& v, const SlurmSupervisorOptions& s,
                         const std::vector<std::string>& reservation_nodes) {
  if (!v.listed) return false;
  if (!s.reservation.empty() &&
      std::find(reservation_nodes.begin(), reservation_nodes.end(), v.node.name) == reservation_nodes.end()) {
    return false;
  }
  if (!s.partition.empty() &&
      std::find(v.node.partitions.begin(), v.node.partitions.end(), s.partition) == v.node.partitions.end()) {
    return false;
  }
  if (s.idle_only) {
    const bool only_ours = v.node.alloc_cpus <= v.our_cpus;
    if (!(v.node.state == "idle" || ((v.node.state == "mixed" || v.node.state == "allocated") && only_ours))) {
      return false;
    }
  }
  return true;
}

bool SlurmAgent::eligible(const SlurmNodeView& v) const {
  return slurm_node_eligible(v, options_.supervisor, reservation_nodes_);
}

Status SlurmAgent::register_nodes() {
  auto view = supervisor_->nodes();
  for (const auto& [name, v] : view) {
    {
      std::lock_guard lock(mu_);
      if (credentials_.count(name)) continue;
    }
    if (!eligible(v)) continue;
    if (options_.join_token.empty()) {
      return Status::invalid_argument("no join token: pass --join-token or set SCN_JOIN_TOKEN");
    }
    SlurmRegistration mark;
    mark.node = name;
    mark.partition = !options_.supervisor.partition.empty() ? options_.supervisor.partition
                     : v.node.partitions.empty()         ? "default"
                                                         : v.node.partitions.front();
    mark.state = v.node.state;
    const std::string body = register_body(
        options_.join_token, NodeIdentity{options_.name + "-" + name, v.node.address, options_.labels},
        capacity_of(v.node, options_.gpu_memory_gib), &mark);
    auto res = scheduler_->post("/agent/v1/register", body, {{"Content-Type", "application/json"}},
                                kRequestTimeout);
    if (res.is_ok() && (res->status == 201 || res->status == 200)) {
      auto answer = parse_register_answer(res->body);
      if (!answer.is_ok()) return answer.status().with_context("register answer");
      std::map<std::string, Credentials> all;
      {
        std::lock_guard lock(mu_);
        credentials_[name] = answer->credentials;
        heartbeat_ms_ = answer->heartbeat_ms;
        all = credentials_;
      }
      SCN_RETURN_IF_ERROR(save_slurm_credentials(credentials_path(), all));
      common::log_info("slurm agent: Slurm node ", name, " registered as pool node ", answer->credentials.node_id);
      continue;
    }
    if (res.is_ok() && res->status >= 400 && res->status < 500) {
      std::string msg = "registration of Slurm node " + name + " refused (HTTP " + std::to_string(res->status) +
                        "): " + error_message(res->body);
      if (res->status == 401) return Status::unauthenticated(msg);
      if (res->status == 409) return Status::conflict(msg);
      return Status::invalid_argument(msg);
    }
    common::log_warn("slurm agent: register ", name, ": ",
                     res.is_ok() ? "HTTP " + std::to_string(res->status) : res.status().to_string(),
                     "; retrying");
  }
  return Status::ok();
}

void SlurmAgent::heartbeat(const std::string& slurm_node) {
  Credentials creds;
  {
    std::lock_guard lock(mu_);
    creds = credentials_.at(slurm_node);
  }
  const bool controller_ok = supervisor_->controller_ok();
  auto view = supervisor_->nodes();
  SlurmBeat beat;
  beat.controller_ok = controller_ok;
  int free_cores = 0;
  std::int64_t free_ram = 0;
  auto it = view.find(slurm_node);
  if (it == view.end() || (controller_ok && !it->second.listed)) {
    beat.state = "down";
    beat.reason = it == view.end() ? "not listed by sinfo" : "no longer listed by sinfo";
  } else {
    const SlurmNodeView& v = it->second;
    beat.state = v.node.state;
    beat.reason = v.node.reason;
    const int others_cpus = std::max(0, v.node.alloc_cpus - v.our_cpus);
    const std::int64_t others_mb = std::max<std::int64_t>(0, v.node.alloc_memory_mb - v.our_memory_mb);
    free_cores = std::max(0, v.node.cpus - others_cpus - supervisor_->threads_desired(slurm_node));
    free_ram = std::max<std::int64_t>(0, v.node.real_memory_mb - others_mb - supervisor_->memory_desired_mb(slurm_node))
               << 20;
    if (options_.supervisor.idle_only && !eligible(v) && v.our_cpus == 0) free_cores = 0, free_ram = 0;
  }
  auto& unsent = unsent_stopped_[slurm_node];
  std::vector<ReplicaReport> replicas;
  for (auto& r : supervisor_->report(slurm_node)) {
    if (r.state == ReplicaState::kStopped) unsent.push_back(std::move(r));
    else replicas.push_back(std::move(r));
  }
  for (const auto& s : unsent) {
    bool again = std::any_of(replicas.begin(), replicas.end(), [&](const auto& r) { return r.replica_id == s.replica_id; });
    if (!again) replicas.push_back(s);
  }
  const std::string body = heartbeat_body(creds.node_id, free_cores, free_ram, cache_->report(), replicas, &beat);
  auto res = scheduler_->post("/agent/v1/heartbeat", body,
                              {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + creds.node_secret}},
                              kRequestTimeout);
  if (!res.is_ok() || (res->status != 200 && res->status != 410)) {
    if (!in_outage_) {
      common::log_warn("slurm agent: heartbeat of ", slurm_node, ": ",
                       res.is_ok() ? "HTTP " + std::to_string(res->status) + ": " + error_message(res->body)
                                   : res.status().to_string(),
                       "; replicas keep running, retrying");
    }
    in_outage_ = true;
    return;
  }
  if (in_outage_) common::log_info("slurm agent: scheduler reachable again");
  in_outage_ = false;
  unsent.clear();
  if (res->status == 410) {
    common::log_warn("slurm agent: the scheduler removed the node of Slurm node ", slurm_node,
                     " (410); cancelling its jobs");
    supervisor_->set_desired(slurm_node, {});
    std::map<std::string, Credentials> all;
    {
      std::lock_guard lock(mu_);
      credentials_.erase(slurm_node);
      all = credentials_;
    }
    (void)save_slurm_credentials(credentials_path(), all);
    return;
  }
  auto answer = parse_heartbeat_answer(res->body);
  if (!answer.is_ok()) {
    common::log_warn("slurm agent: ignoring a malformed heartbeat answer: ", answer.status().message());
    return;
  }
  {
    std::lock_guard lock(mu_);
    heartbeat_ms_ = answer->heartbeat_ms;
  }
  supervisor_->set_desired(slurm_node, std::move(answer->replicas));
}

Status SlurmAgent::run() {
  // The first sinfo: nothing can be registered before Slurm answered.
  while (!supervisor_->polled()) {
    if (wait_stopping(std::chrono::milliseconds(100))) break;
  }
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      changed_ = false;
    }
    if (supervisor_->controller_ok()) {
      Status st = register_nodes();
      if (!st.is_ok()) {
        supervisor_->stop_all();
        return st;
      }
    }
    std::vector<std::string> names;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, c] : credentials_) names.push_back(name);
    }
    for (const auto& name : names) heartbeat(name);
    const auto sent = Clock::now();
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, sent + std::chrono::milliseconds(heartbeat_ms_), [&] { return stop_ || changed_; });
    if (stop_) break;
    if (changed_) {
      cv_.wait_until(lock, sent + kMinHeartbeatGap, [&] { return stop_; });
      if (stop_) break;
    }
  }
  common::log_info("slurm agent: stopping; cancelling the jobs");
  supervisor_->stop_all();
  return Status::ok();
}

}  // namespace scn::node_agent::slurm
