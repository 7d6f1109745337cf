// The Slurm parts of the agents' API bodies (issue 10; docs/API.md,
// "POST /agent/v1/register" and "POST /agent/v1/heartbeat").
//
// Contract:
//  - parse_slurm_registration(): reads "managed_by" (optional string,
//    "agent" or "slurm"; absent = "agent") and "slurm" (an object
//    {"node","partition","state"}, present iff managed_by is "slurm").
//    Wrong types, or a missing field inside "slurm": kInvalidArgument (400).
//    Bad values: kUnprocessable (422): managed_by other than agent/slurm,
//    "slurm" missing for a Slurm node or given for a plain one, a node name
//    that is not [A-Za-z0-9][A-Za-z0-9._-] (1..253), a partition that is
//    empty, over 128 bytes or has spaces, commas or control characters, a
//    state that valid_slurm_state() refuses (states are lower-cased first).
//    nullopt for a plain agent.
//  - parse_slurm_heartbeat(): reads "slurm" (optional object {"state",
//    "reason"? (default ""), "controller"? ("ok" or "unreachable", default
//    "ok")}) and, when it is there, "free.cpu_cores"/"free.ram_bytes" (used
//    when they are non-negative integers). Same 400/422 rules; a reason is
//    cut to 500 bytes and made valid UTF-8.
//  - slurm_registration_json(): the nodes.slurm value at registration
//    {"node","partition","state","reason":"","controller":"ok"}.
//  - slurm_after_heartbeat(): the nodes.slurm value after a heartbeat: the
//    stored one with controller, free_cpu_cores/free_ram_bytes (when given)
//    and, only while the controller is "ok", state and reason replaced (an
//    unreachable controller leaves the last known state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace scn::scheduler {

struct SlurmRegistration {
  std::string node;
  std::string partition;
  std::string state;
};

struct SlurmHeartbeat {
  std::string state;
  std::string reason;
  bool controller_ok = true;
  std::optional<int64_t> free_cpu_cores;
  std::optional<int64_t> free_ram_bytes;
};

Result<std::optional<SlurmRegistration>> parse_slurm_registration(const common::JsonObject& body);
Result<std::optional<SlurmHeartbeat>> parse_slurm_heartbeat(const common::JsonObject& body);

std::string slurm_registration_json(const SlurmRegistration& s);
std::string slurm_after_heartbeat(std::string_view stored_json, const SlurmHeartbeat& s);

}  // namespace scn::scheduler
