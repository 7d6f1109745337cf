// `scn scheduler`: the pool's scheduler process (agents' API, liveness,
// reconciliation, placement, failover). Returns a process exit code.
#pragma once

namespace scn::scheduler {

int scheduler_main(int argc, char** argv);

}  // namespace scn::scheduler
