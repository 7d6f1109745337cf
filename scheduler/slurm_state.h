// Slurm's node states mapped to the pool's node status (issue 10; docs/API.md,
// "POST /agent/v1/heartbeat", and docs/ARCHITECTURE.md, "The Slurm path beside
// the plain agent path"). Pure functions: the agents' API applies them in its
// register and heartbeat transactions.
//
// Contract:
//  - A Slurm state as the agent sends it: lower case, a base state with
//    optional '+'-joined flags ("mixed+drain") and sinfo's one-character
//    suffix marks ("idle*": not responding, "idle~": powered off, "drain$",
//    "idle#", "idle!", "idle%", "idle@", "idle^", "idle-").
//    valid_slurm_state(): 1..64 characters of [a-z0-9_+*~#!%$@^-], each
//    '+'-separated part non-empty.
//  - classify_slurm_state(): kDown when some part is down, fail,
//    not_responding, unknown, future, power_down/powered_down/powering_down/
//    powering_up/power_up/poweroff, invalid_reg, reboot_issued or carries the
//    mark '*', '~', '#' or '%', or when the base state is none of the known
//    ones; else kDrain when some part is drain, draining, drained, failing,
//    maint or reboot_requested, or carries '$'; else kUsable (idle, mixed, allocated, completing,
//    planned, reserved, with harmless flags like cloud or completing).
//    sinfo's short forms (alloc, mix, drng, comp, resv, unk, futr, pow_dn,
//    pow_up, npc, plnd, inval, boot) are understood too.
//  - slurm_node_status(): the status a Slurm-managed node takes when Slurm
//    reports `cls` for it, given its current status and status_reason:
//      kUsable: 'lost' -> 'ready'; 'draining' set by Slurm (reason starting
//        "slurm: ") -> 'ready'; otherwise unchanged (an operator's drain
//        stays).
//      kDrain:  'ready' or 'lost' -> 'draining', reason "slurm: drain: R";
//        'draining' set by Slurm -> the new reason; an operator's drain
//        stays as it is.
//      kDown:   'ready', 'draining' or 'lost' -> 'lost', reason
//        "slurm: down: R".
//    R is Slurm's reason, or the state itself when Slurm gave none. Returns
//    nullopt when nothing changes ('removed' never changes).
//  - is_slurm_reason(): the status_reason was set by Slurm ("slurm: ...").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace scn::scheduler {

enum class SlurmClass { kUsable, kDrain, kDown };

bool valid_slurm_state(std::string_view state);
SlurmClass classify_slurm_state(std::string_view state);
std::string_view slurm_class_name(SlurmClass cls);  // "usable", "drain", "down"

struct NodeStatusChange {
  std::string status;
  std::optional<std::string> reason;
  bool operator==(const NodeStatusChange&) const = default;
};

bool is_slurm_reason(const std::optional<std::string>& reason);

std::optional<NodeStatusChange> slurm_node_status(std::string_view status,
                                                  const std::optional<std::string>& reason,
                                                  SlurmClass cls, std::string_view state,
                                                  std::string_view slurm_reason);

}  // namespace scn::scheduler
