// The agent side of the scheduler's agent protocol (docs/API.md, "scn
// scheduler - agents' API"): the JSON bodies of POST /agent/v1/register and
// POST /agent/v1/heartbeat and their answers, and the agent's persisted
// credentials (<state-dir>/agent.json).
//
// Contract:
//  - The builders produce exactly the documented bodies.
//  - The parsers never throw: a malformed answer is kInvalidArgument naming
//    the field (the agent then keeps its current state).
//  - save_credentials() writes the file with mode 0600 through a temporary
//    file and a rename, so a crash never leaves half a file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "node-agent/capacity.h"
#include "node-agent/model_cache.h"
#include "node-agent/supervisor.h"

namespace scn::node_agent {

struct NodeIdentity {
  std::string name;
  std::string address;
  std::map<std::string, std::string> labels;
};

struct Credentials {
  std::string node_id;
  std::string node_secret;
  std::string center_id;
};

struct RegisterAnswer {
  Credentials credentials;
  int heartbeat_ms = 2000;
};

struct HeartbeatAnswer {
  int heartbeat_ms = 2000;
  std::string node_status;  // "ready" | "draining"
  std::vector<DesiredReplica> replicas;
};

// A node of a Slurm center (`scn agent --slurm`, issue 10): the register
// body gains "managed_by":"slurm" and "slurm":{"node","partition","state"};
// every heartbeat gains "slurm":{"state","reason","controller":"ok"|"unreachable"}.
// Plain agents pass nullptr and send neither.
struct SlurmRegistration {
  std::string node;       // the Slurm node name
  std::string partition;  // the partition the agent submits to (or the node's first)
  std::string state;      // Slurm's state, lower case: idle, mixed, allocated, drain, down, ...
};
struct SlurmBeat {
  std::string state;
  std::string reason;
  bool controller_ok = true;
};

std::string register_body(const std::string& join_token, const NodeIdentity& identity,
                          const Capacity& capacity, const SlurmRegistration* slurm = nullptr);
Result<RegisterAnswer> parse_register_answer(std::string_view body);

std::string heartbeat_body(const std::string& node_id, int free_cpu_cores,
                           std::int64_t free_ram_bytes, const std::vector<FileReport>& models,
                           const std::vector<ReplicaReport>& replicas,
                           const SlurmBeat* slurm = nullptr);
Result<HeartbeatAnswer> parse_heartbeat_answer(std::string_view body);

// kNotFound when the file does not exist.
Result<Credentials> load_credentials(const std::string& path);
Status save_credentials(const std::string& path, const Credentials& credentials);

// The "message" of an error body {"error":{"message":...}}, else the body itself (shortened).
std::string error_message(std::string_view body);

}  // namespace scn::node_agent
