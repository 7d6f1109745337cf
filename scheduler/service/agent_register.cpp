// AgentApi::register_node() and the HTTP routes of the agents' API.
#include <boost/json.hpp>

#include <cctype>
#include <map>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/http/server.h"
#include "common/json.h"
#include "common/log.h"
#include "scheduler/service/agent_api.h"
#include "scheduler/service/slurm_report.h"
#include "scheduler/slurm_state.h"

namespace scn::scheduler {
namespace {

namespace json = boost::json;

struct DeviceRow {
  std::string kind;
  std::string model;
  int64_t memory_bytes = 0;
  int64_t count = 0;
};

struct RegisterRequest {
  std::string join_token;
  std::string name;
  std::string address;
  std::string labels = "{}";
  bool simulated = false;
  std::vector<DeviceRow> devices;  // the cpu row first, then GPU models
  std::optional<SlurmRegistration> slurm;  // managed_by "slurm"
};

bool valid_node_name(std::string_view n) {
  if (n.empty() || n.size() > 253 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > 255) return false;
  for (char c : a)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '?' || c == '#' || c == '@' ||
        c == 0x7f)
      return false;
  return true;
}

Result<RegisterRequest> parse_register(std::string_view body) {
  SCN_ASSIGN_OR_RETURN(auto obj, common::parse_json_object(body));
  RegisterRequest r;
  SCN_ASSIGN_OR_RETURN(r.join_token, common::require_string(obj, "join_token"));
  SCN_ASSIGN_OR_RETURN(r.name, common::require_string(obj, "name"));
  SCN_ASSIGN_OR_RETURN(r.address, common::require_string(obj, "address"));
  SCN_ASSIGN_OR_RETURN(r.simulated, common::get_bool(obj, "simulated", false));
  SCN_ASSIGN_OR_RETURN(const json::object* labels, common::get_object(obj, "labels"));
  if (labels) {
    for (const auto& [k, v] : *labels)
      if (!v.is_string())
        return Status::invalid_argument("field 'labels." + std::string(k) + "' must be a string");
    r.labels = common::to_json(*labels);
  }
  SCN_ASSIGN_OR_RETURN(const json::array* devices, common::require_array(obj, "devices"));
  std::vector<DeviceRow> raw;
  for (size_t i = 0; i < devices->size(); ++i) {
    const std::string field = "devices[" + std::to_string(i) + "]";
    if (!(*devices)[i].is_object())
      return Status::invalid_argument("field '" + field + "' must be an object");
    const auto& d = (*devices)[i].as_object();
    DeviceRow row;
    auto kind = common::require_string(d, "kind");
    auto model = common::require_string(d, "model");
    auto memory = common::require_int(d, "memory_bytes");
    auto count = common::require_int(d, "count");
    for (const Status* st : {&kind.status(), &model.status(), &memory.status(), &count.status()})
      if (!st->is_ok()) return Status::invalid_argument(field + ": " + st->message());
    row.kind = *kind;
    row.model = *model;
    row.memory_bytes = *memory;
    row.count = *count;
    raw.push_back(std::move(row));
  }
  SCN_ASSIGN_OR_RETURN(r.slurm, parse_slurm_registration(obj));

  // Semantics (422).
  if (!valid_node_name(r.name))
    return Status::unprocessable("name must be 1-253 characters [A-Za-z0-9._-], starting with a letter or digit");
  if (!valid_address(r.address))
    return Status::unprocessable("address must be a host name or IP address (1-255 characters)");
  if (r.join_token.empty() || r.join_token.size() > 512)
    return Status::unauthenticated("unknown join token");
  int cpus = 0;
  std::map<std::string, size_t> gpu_by_model;
  std::vector<DeviceRow> grouped;  // GPU rows, by first appearance of the model
  DeviceRow cpu;
  for (size_t i = 0; i < raw.size(); ++i) {
    const DeviceRow& d = raw[i];
    const std::string field = "devices[" + std::to_string(i) + "]";
    if (d.kind != "cpu" && d.kind != "gpu")
      return Status::unprocessable(field + ".kind must be \"cpu\" or \"gpu\"");
    if (d.model.empty() || d.model.size() > 200)
      return Status::unprocessable(field + ".model must be 1-200 characters");
    if (d.memory_bytes <= 0) return Status::unprocessable(field + ".memory_bytes must be > 0");
    if (d.count < 1 || d.count > 4096)
      return Status::unprocessable(field + ".count must be between 1 and 4096");
    if (d.kind == "cpu") {
      ++cpus;
      cpu = d;
      continue;
    }
    auto it = gpu_by_model.find(d.model);
    if (it == gpu_by_model.end()) {
      gpu_by_model[d.model] = grouped.size();
      grouped.push_back(d);
      continue;
    }
    DeviceRow& g = grouped[it->second];
    if (g.memory_bytes != d.memory_bytes)
      return Status::unprocessable(field + ": GPUs of model '" + d.model +
                                   "' must all have the same memory_bytes");
    g.count += d.count;
    if (g.count > 4096) return Status::unprocessable(field + ".count: more than 4096 GPUs of one model");
  }
  if (cpus != 1)
    return Status::unprocessable("devices must contain exactly one entry of kind \"cpu\" (cores and RAM)");
  r.devices.push_back(std::move(cpu));
  for (auto& g : grouped) r.devices.push_back(std::move(g));
  return r;
}

}  // namespace

std::string Registration::to_json(const SchedulerConfig& config) const {
  return common::to_json(json::object{{"node_id", node_id},
                                      {"node_secret", node_secret},
                                      {"center_id", center_id},
                                      {"heartbeat_ms", config.heartbeat.count()}});
}

Result<Registration> AgentApi::register_node(std::string_view body) {
  SCN_ASSIGN_OR_RETURN(RegisterRequest req, parse_register(body));
  SCN_ASSIGN_OR_RETURN(std::string secret, crypto::new_secret("scn-node-"));
  const std::string token_hash = crypto::to_hex(crypto::sha256(req.join_token));
  const std::string secret_hash = crypto::to_hex(crypto::sha256(secret));

  auto out = pool_.with_tx([&](pqxx::work& tx) -> Result<Registration> {
    pqxx::result t = tx.exec_params(
        "SELECT id, center_id, expires_at > now(), revoked_at IS NULL, "
        "max_uses IS NULL OR uses < max_uses FROM join_tokens "
        "WHERE token_hash = decode($1, 'hex') FOR UPDATE",
        token_hash);
    if (t.empty()) return Status::unauthenticated("unknown join token");
    if (!t[0][2].as<bool>()) return Status::unauthenticated("join token expired");
    if (!t[0][3].as<bool>()) return Status::unauthenticated("join token revoked");
    if (!t[0][4].as<bool>()) return Status::unauthenticated("join token used up");
    const std::string token_id = t[0][0].as<std::string>();
    Registration reg;
    reg.center_id = t[0][1].as<std::string>();

    pqxx::result taken = tx.exec_params(
        "SELECT id, status FROM nodes WHERE center_id = $1 AND name = $2 FOR UPDATE", reg.center_id,
        req.name);
    if (!taken.empty()) {
      if (taken[0][1].as<std::string>() != "removed")
        return Status::conflict("a node named '" + req.name + "' is already in this center");
      tx.exec_params(
          "UPDATE nodes SET name = left(name, 200) || '.removed.' || left(id::text, 8) WHERE id = $1",
          taken[0][0].as<std::string>());
    }
    tx.exec_params("UPDATE join_tokens SET uses = uses + 1 WHERE id = $1", token_id);
    // A Slurm node starts in the status its Slurm state maps to.
    std::string status = "ready";
    std::optional<std::string> status_reason;
    std::optional<std::string> slurm_json;
    if (req.slurm) {
      slurm_json = slurm_registration_json(*req.slurm);
      if (auto to = slurm_node_status("ready", std::nullopt, classify_slurm_state(req.slurm->state),
                                      req.slurm->state, "")) {
        status = to->status;
        status_reason = to->reason;
      }
    }
    reg.node_id = tx.exec_params1(
                        "INSERT INTO nodes (center_id, name, address, labels, simulated, status, "
                        "status_reason, secret_hash, join_token_id, last_heartbeat_at, managed_by, "
                        "slurm) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, decode($8, 'hex'), $9, "
                        "now(), $10, $11::jsonb) RETURNING id",
                        reg.center_id, req.name, req.address, req.labels, req.simulated, status,
                        status_reason ? status_reason->c_str() : nullptr, secret_hash, token_id,
                        req.slurm ? "slurm" : "agent",
                        slurm_json ? slurm_json->c_str() : nullptr)[0]
                      .as<std::string>();
    for (const DeviceRow& d : req.devices)
      tx.exec_params(
          "INSERT INTO devices (node_id, kind, model, memory_bytes, count) VALUES ($1, $2, $3, $4, $5)",
          reg.node_id, d.kind, d.model, d.memory_bytes, d.count);
    json::array devices;
    for (const DeviceRow& d : req.devices)
      devices.push_back(json::object{{"kind", d.kind}, {"model", d.model},
                                     {"memory_bytes", d.memory_bytes}, {"count", d.count}});
    tx.exec_params(
        "INSERT INTO audit_log (actor_kind, actor_name, center_id, action, target_kind, target_id, "
        "details) VALUES ('node', $1, $2, 'node.register', 'node', $3, $4::jsonb)",
        req.name, reg.center_id, reg.node_id,
        common::to_json(json::object{{"join_token_id", token_id},
                                     {"address", req.address},
                                     {"simulated", req.simulated},
                                     {"managed_by", req.slurm ? "slurm" : "agent"},
                                     {"devices", std::move(devices)}}));
    return reg;
  });
  if (!out.is_ok()) return out.status();
  out->node_secret = std::move(secret);
  metrics_.registrations.inc();
  common::log_info("scheduler: node ", req.name, " (", out->node_id, ") registered in center ",
                   out->center_id);
  return out;
}

void AgentApi::install(http::Server& server) {
  // The cluster key of the replicas' worker secrets, read at start (and
  // again at the first heartbeat if the database is not reachable now).
  if (Status st = secrets_.load(); !st.is_ok())
    common::log_warn("scheduler: cluster key (worker secrets): ", st.to_string());
  server.route("POST", "/agent/v1/register", [this](const http::Request& req, http::Response& res) {
    auto reg = register_node(req.body);
    if (!reg.is_ok()) return http::error_response(res, reg.status());
    res.set_json(201, reg->to_json(config_));
  });
  server.route("POST", "/agent/v1/heartbeat", [this](const http::Request& req, http::Response& res) {
    auto hb = heartbeat(req.header("Authorization"), req.body,
                        PeerCert{req.tls_client_cert, req.tls_peer_node_id});
    if (!hb.is_ok()) return http::error_response(res, hb.status());
    if (hb->removed) return http::error_response(res, 410, "invalid_request_error", "node removed");
    res.set_json(200, std::move(hb->body));
  });
}

}  // namespace scn::scheduler
