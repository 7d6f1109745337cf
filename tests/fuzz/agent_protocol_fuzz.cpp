// Fuzz target: the agent protocol's parsers (node-agent/protocol.h): the
// scheduler's answers to POST /agent/v1/register and /agent/v1/heartbeat
// as the agent reads them. Malformed answers are kInvalidArgument, never a
// crash; parsed replicas carry the fields the supervisor relies on.
#include <string_view>

#include "node-agent/protocol.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {

int agent_protocol_one_input(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto reg = node_agent::parse_register_answer(body);
  if (!reg.is_ok() && reg.status().code() != Code::kInvalidArgument)
    fuzz_fail("agent_protocol", "register: " + reg.status().to_string());
  auto hb = node_agent::parse_heartbeat_answer(body);
  if (!hb.is_ok()) {
    if (hb.status().code() != Code::kInvalidArgument)
      fuzz_fail("agent_protocol", "heartbeat: " + hb.status().to_string());
    return 0;
  }
  for (const auto& r : hb->replicas) {
    if (r.port && (*r.port < 0 || *r.port > 65535)) fuzz_fail("agent_protocol", "port out of range");
  }
  return 0;
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(agent_protocol)
