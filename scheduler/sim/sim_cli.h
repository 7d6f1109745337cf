// `scn sim` (scheduler/sim/sim.h): the real placement framework over a
// simulated national pool.
//   scn sim [--centers N] [--nodes-per-center N] [--seed S] [--events N]
//           [--gpu-mix H200:1,...] [--max-feasible-nodes K] [--saturate]
//           [--sweep] [--no-timings] [--catalog PATH]
// Exit 0 when no invariant is violated, 1 when one is, 2 for bad options.
#pragma once

namespace scn::scheduler::sim {

int sim_main(int argc, char** argv);

}  // namespace scn::scheduler::sim
