#include "common/http/server_metrics.h"

#include "common/http/server.h"

namespace scn::http {

std::string server_metrics(const Server& server) {
  return "# HELP scn_http_rejected_connections_total Connections closed right after accept: their address "
         "had max_connections_per_address open.\n"
         "# TYPE scn_http_rejected_connections_total counter\n"
         "scn_http_rejected_connections_total " +
         std::to_string(server.rejected_connections()) + "\n";
}

}  // namespace scn::http
