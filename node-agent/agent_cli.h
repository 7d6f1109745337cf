// `scn agent`: the node agent (registration, heartbeats, worker supervision,
// model file cache). Returns a process exit code.
#pragma once

namespace scn::node_agent {

int agent_main(int argc, char** argv);

}  // namespace scn::node_agent
