// The HTTP server's own counters in the Prometheus text format, for a
// process's /metrics answer.
//
// Contract:
//  - server_metrics(server) returns complete exposition lines (HELP, TYPE
//    and the sample) for scn_http_rejected_connections_total: connections
//    the server closed right after accept because their address already had
//    max_connections_per_address open (common/http/server.h). Append it to
//    the registry's render(); it reads the server at call time, so nothing
//    outlives the server.
#pragma once

#include <string>

namespace scn::http {

class Server;

std::string server_metrics(const Server& server);

}  // namespace scn::http
