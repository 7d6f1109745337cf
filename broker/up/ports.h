// Loopback ports for the processes `scn up` and the end-to-end tests start.
//
// Contract:
//  - port_free(p) is true when a socket can be bound to 127.0.0.1:p right now
//    (nobody listens there; a port in TIME_WAIT counts as free, as servers use
//    SO_REUSEADDR).
//  - pick_port(preferred) answers `preferred` when it is in 1..65535 and
//    free, else a port the kernel hands out for 127.0.0.1 (free a moment ago).
//  - wait_listening(port, timeout, alive) polls until something accepts TCP
//    connections on 127.0.0.1:port (true), the timeout passes, or `alive`
//    (when given) answers false (false: the process meant to listen died).
#pragma once

#include <chrono>
#include <functional>

namespace scn::broker {

bool port_free(int port);
int pick_port(int preferred = 0);
bool port_listening(int port);
bool wait_listening(int port, std::chrono::milliseconds timeout, const std::function<bool()>& alive = {});

}  // namespace scn::broker
