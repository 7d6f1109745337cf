#include "node-agent/protocol.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"

namespace scn::node_agent {
namespace json = boost::json;
using common::JsonObject;

namespace {

Result<int> get_positive_ms(const JsonObject& o, std::string_view key, int fallback) {
  SCN_ASSIGN_OR_RETURN(std::int64_t v, common::get_int(o, key, fallback));
  if (v <= 0 || v > 600'000) return Status::invalid_argument("field '" + std::string(key) + "' out of range");
  return static_cast<int>(v);
}

Result<ModelFile> parse_model(const JsonObject& o) {
  ModelFile m;
  SCN_ASSIGN_OR_RETURN(m.model_file_id, common::require_string(o, "model_file_id"));
  SCN_ASSIGN_OR_RETURN(m.file_name, common::require_string(o, "file_name"));
  SCN_ASSIGN_OR_RETURN(m.uri, common::require_string(o, "uri"));
  SCN_ASSIGN_OR_RETURN(m.sha256, common::require_string(o, "sha256"));
  SCN_ASSIGN_OR_RETURN(m.size_bytes, common::get_int(o, "size_bytes", 0));
  return m;
}

Result<DesiredReplica> parse_replica(const JsonObject& o) {
  DesiredReplica d;
  SCN_ASSIGN_OR_RETURN(d.replica_id, common::require_string(o, "replica_id"));
  SCN_ASSIGN_OR_RETURN(d.service_id, common::get_string(o, "service_id", ""));
  SCN_ASSIGN_OR_RETURN(d.service_name, common::get_string(o, "service_name", ""));
  SCN_ASSIGN_OR_RETURN(d.worker_secret, common::get_string(o, "worker_secret", ""));
  SCN_ASSIGN_OR_RETURN(auto port, common::get_optional_int(o, "port"));
  if (port) {
    if (*port < 1 || *port > 65535) return Status::invalid_argument("field 'port' out of range");
    d.port = static_cast<int>(*port);
  }
  SCN_ASSIGN_OR_RETURN(std::int64_t threads, common::get_int(o, "cpu_threads", 1));
  d.cpu_threads = static_cast<int>(std::clamp<std::int64_t>(threads, 0, 4096));
  SCN_ASSIGN_OR_RETURN(const json::array* gpus, common::get_array(o, "gpu_indices"));
  if (gpus) {
    for (const auto& g : *gpus) {
      if (!g.is_int64()) return Status::invalid_argument("field 'gpu_indices' must hold integers");
      d.gpu_indices.push_back(static_cast<int>(g.as_int64()));
    }
  }
  SCN_ASSIGN_OR_RETURN(d.memory_bytes, common::get_int(o, "memory_bytes", 0));
  SCN_ASSIGN_OR_RETURN(std::int64_t ctx, common::get_int(o, "context_length", 0));
  d.context_length = static_cast<int>(std::clamp<std::int64_t>(ctx, 0, 1 << 24));
  SCN_ASSIGN_OR_RETURN(const JsonObject* model, common::require_object(o, "model"));
  auto m = parse_model(*model);
  if (!m.is_ok()) return m.status().with_context("model");
  d.model = std::move(m).value();
  return d;
}

}  // namespace

std::string register_body(const std::string& join_token, const NodeIdentity& identity,
                          const Capacity& capacity, const SlurmRegistration* slurm) {
  json::object labels;
  for (const auto& [k, v] : identity.labels) labels[k] = v;
  json::array devices;
  for (const auto& d : capacity.devices()) {
    json::object row{{"kind", d.kind},
                     {"model", d.model},
                     {"memory_bytes", d.memory_bytes},
                     {"count", d.count}};
    if (!d.compute_capability.empty()) row["compute_capability"] = d.compute_capability;
    devices.push_back(std::move(row));
  }
  json::object body{{"join_token", join_token},
                    {"name", identity.name},
                    {"address", identity.address},
                    {"labels", std::move(labels)},
                    {"simulated", capacity.simulated},
                    {"devices", std::move(devices)}};
  if (slurm) {
    body["managed_by"] = "slurm";
    body["slurm"] = json::object{{"node", slurm->node}, {"partition", slurm->partition}, {"state", slurm->state}};
  }
  return json::serialize(body);
}

Result<RegisterAnswer> parse_register_answer(std::string_view body) {
  SCN_ASSIGN_OR_RETURN(JsonObject o, common::parse_json_object(body));
  RegisterAnswer a;
  SCN_ASSIGN_OR_RETURN(a.credentials.node_id, common::require_string(o, "node_id"));
  SCN_ASSIGN_OR_RETURN(a.credentials.node_secret, common::require_string(o, "node_secret"));
  SCN_ASSIGN_OR_RETURN(a.credentials.center_id, common::get_string(o, "center_id", ""));
  SCN_ASSIGN_OR_RETURN(a.heartbeat_ms, get_positive_ms(o, "heartbeat_ms", 2000));
  if (a.credentials.node_id.empty() || a.credentials.node_secret.empty()) {
    return Status::invalid_argument("empty node_id or node_secret");
  }
  return a;
}

std::string heartbeat_body(const std::string& node_id, int free_cpu_cores,
                           std::int64_t free_ram_bytes, const std::vector<FileReport>& models,
                           const std::vector<ReplicaReport>& replicas, const SlurmBeat* slurm) {
  json::array m;
  for (const auto& f : models) {
    json::object o{{"model_file_id", f.model_file_id},
                   {"state", file_state_name(f.state)},
                   {"bytes_present", f.bytes_present}};
    if (!f.reason.empty()) o["reason"] = f.reason;
    m.push_back(std::move(o));
  }
  json::array r;
  for (const auto& rep : replicas) {
    json::object o{{"replica_id", rep.replica_id},
                   {"state", replica_state_name(rep.state)},
                   {"reason", rep.reason},
                   {"restarts", rep.restarts},
                   {"outstanding", rep.outstanding}};
    if (rep.port) o["port"] = *rep.port;
    else o["port"] = nullptr;
    r.push_back(std::move(o));
  }
  json::object body{{"node_id", node_id},
                    {"free", json::object{{"cpu_cores", free_cpu_cores}, {"ram_bytes", free_ram_bytes}}},
                    {"models", std::move(m)},
                    {"replicas", std::move(r)}};
  if (slurm) {
    body["slurm"] = json::object{{"state", slurm->state},
                                 {"reason", slurm->reason},
                                 {"controller", slurm->controller_ok ? "ok" : "unreachable"}};
  }
  return json::serialize(body);
}

Result<HeartbeatAnswer> parse_heartbeat_answer(std::string_view body) {
  SCN_ASSIGN_OR_RETURN(JsonObject o, common::parse_json_object(body));
  HeartbeatAnswer a;
  SCN_ASSIGN_OR_RETURN(a.heartbeat_ms, get_positive_ms(o, "heartbeat_ms", 2000));
  SCN_ASSIGN_OR_RETURN(a.node_status, common::get_string(o, "node_status", "ready"));
  SCN_ASSIGN_OR_RETURN(const json::array* replicas, common::require_array(o, "replicas"));
  for (size_t i = 0; i < replicas->size(); ++i) {
    const auto& v = (*replicas)[i];
    if (!v.is_object()) return Status::invalid_argument("replicas[" + std::to_string(i) + "] must be an object");
    auto d = parse_replica(v.as_object());
    if (!d.is_ok()) return d.status().with_context("replicas[" + std::to_string(i) + "]");
    a.replicas.push_back(std::move(d).value());
  }
  return a;
}

Result<Credentials> load_credentials(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(path + " does not exist");
  std::stringstream s;
  s << in.rdbuf();
  auto o = common::parse_json_object(s.str());
  if (!o.is_ok()) return o.status().with_context(path);
  Credentials c;
  auto id = common::require_string(o.value(), "node_id");
  auto secret = common::require_string(o.value(), "node_secret");
  auto center = common::get_string(o.value(), "center_id", "");
  if (!id.is_ok()) return id.status().with_context(path);
  if (!secret.is_ok()) return secret.status().with_context(path);
  if (!center.is_ok()) return center.status().with_context(path);
  c.node_id = id.value();
  c.node_secret = secret.value();
  c.center_id = center.value();
  if (c.node_id.empty() || c.node_secret.empty()) return Status::corrupt(path + ": empty node_id or node_secret");
  return c;
}

Status save_credentials(const std::string& path, const Credentials& credentials) {
  std::string text = json::serialize(json::object{{"node_id", credentials.node_id},
                                                  {"node_secret", credentials.node_secret},
                                                  {"center_id", credentials.center_id}}) +
                     "\n";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("create " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::filesystem::remove(tmp, ec);
    return Status::io_error("write " + path + ": " + std::strerror(errno));
  }
  return Status::ok();
}

std::string error_message(std::string_view body) {
  auto o = common::parse_json_object(body);
  if (o.is_ok()) {
    auto err = common::get_object(o.value(), "error");
    if (err.is_ok() && err.value()) {
      auto msg = common::get_string(*err.value(), "message", "");
      if (msg.is_ok() && !msg.value().empty()) return msg.value();
    }
  }
  return std::string(body.substr(0, 200));
}

}  // namespace scn::node_agent
