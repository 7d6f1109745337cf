// `scn broker` (the front door) and `scn admin` (the same operations from a
// terminal, straight on PostgreSQL). Both return a process exit code.
#pragma once

namespace scn::broker {

int broker_main(int argc, char** argv);
int admin_main(int argc, char** argv);

}  // namespace scn::broker
