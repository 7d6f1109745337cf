#include "scheduler/service/slurm_report.h"

#include <boost/json.hpp>

#include <cctype>

#include "scheduler/slurm_state.h"

namespace scn::scheduler {
namespace {

namespace json = boost::json;

bool valid_slurm_node_name(std::string_view n) {
  if (n.empty() || n.size() > 253 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

bool valid_partition(std::string_view p) {
  if (p.empty() || p.size() > 128) return false;
  for (char c : p)
    if (static_cast<unsigned char>(c) <= ' ' || c == ',' || c == 0x7f) return false;
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status in_slurm(const Status& st) { return Status::invalid_argument("slurm: " + st.message()); }

}  // namespace

Result<std::optional<SlurmRegistration>> parse_slurm_registration(const common::JsonObject& body) {
  SCN_ASSIGN_OR_RETURN(std::string managed_by, common::get_string(body, "managed_by", "agent"));
  SCN_ASSIGN_OR_RETURN(const json::object* slurm, common::get_object(body, "slurm"));
  std::optional<SlurmRegistration> out;
  if (slurm) {
    SlurmRegistration s;
    auto node = common::require_string(*slurm, "node");
    auto partition = common::require_string(*slurm, "partition");
    auto state = common::require_string(*slurm, "state");
    for (const Status* st : {&node.status(), &partition.status(), &state.status()})
      if (!st->is_ok()) return in_slurm(*st);
    s.node = *node;
    s.partition = *partition;
    s.state = lower(*state);
    out = std::move(s);
  }
  if (managed_by != "agent" && managed_by != "slurm")
    return Status::unprocessable("managed_by must be \"agent\" or \"slurm\"");
  if (managed_by == "slurm" && !out)
    return Status::unprocessable("slurm {\"node\",\"partition\",\"state\"} is required when managed_by is \"slurm\"");
  if (managed_by == "agent" && out)
    return Status::unprocessable("slurm is only for nodes with managed_by \"slurm\"");
  if (!out) return out;
  if (!valid_slurm_node_name(out->node))
    return Status::unprocessable("slurm.node must be 1-253 characters [A-Za-z0-9._-], starting with a letter or digit");
  if (!valid_partition(out->partition))
    return Status::unprocessable("slurm.partition must be 1-128 characters without spaces or commas");
  if (!valid_slurm_state(out->state))
    return Status::unprocessable("slurm.state must be a Slurm node state like idle, mixed+drain or idle*");
  return out;
}

Result<std::optional<SlurmHeartbeat>> parse_slurm_heartbeat(const common::JsonObject& body) {
  SCN_ASSIGN_OR_RETURN(const json::object* slurm, common::get_object(body, "slurm"));
  if (!slurm) return std::optional<SlurmHeartbeat>();
  SlurmHeartbeat s;
  auto state = common::require_string(*slurm, "state");
  auto reason = common::get_string(*slurm, "reason", "");
  auto controller = common::get_string(*slurm, "controller", "ok");
  for (const Status* st : {&state.status(), &reason.status(), &controller.status()})
    if (!st->is_ok()) return in_slurm(*st);
  s.state = lower(*state);
  s.reason = std::move(*reason);
  if (!valid_slurm_state(s.state))
    return Status::unprocessable("slurm.state must be a Slurm node state like idle, mixed+drain or idle*");
  if (*controller != "ok" && *controller != "unreachable")
    return Status::unprocessable("slurm.controller must be \"ok\" or \"unreachable\"");
  s.controller_ok = *controller == "ok";
  if (s.reason.size() > 500) s.reason.resize(500);
  s.reason = common::sanitize_utf8(s.reason);
  if (auto it = body.find("free"); it != body.end() && it->value().is_object()) {
    const json::object& free = it->value().as_object();
    auto cores = common::get_optional_int(free, "cpu_cores");
    auto ram = common::get_optional_int(free, "ram_bytes");
    if (cores.is_ok() && *cores && **cores >= 0) s.free_cpu_cores = *cores;
    if (ram.is_ok() && *ram && **ram >= 0) s.free_ram_bytes = *ram;
  }
  return std::optional<SlurmHeartbeat>(std::move(s));
}

std::string slurm_registration_json(const SlurmRegistration& s) {
  return common::to_json(json::object{{"node", s.node},
                                      {"partition", s.partition},
                                      {"state", s.state},
                                      {"reason", ""},
                                      {"controller", "ok"}});
}

std::string slurm_after_heartbeat(std::string_view stored_json, const SlurmHeartbeat& s) {
  json::object o;
  if (auto v = common::parse_json_object(stored_json.empty() ? "{}" : stored_json); v.is_ok())
    o = std::move(*v);
  o["controller"] = s.controller_ok ? "ok" : "unreachable";
  if (s.controller_ok || !o.contains("state")) {
    o["state"] = s.state;
    o["reason"] = s.reason;
  }
  if (s.free_cpu_cores) o["free_cpu_cores"] = *s.free_cpu_cores;
  if (s.free_ram_bytes) o["free_ram_bytes"] = *s.free_ram_bytes;
  return common::to_json(o);
}

}  // namespace scn::scheduler
