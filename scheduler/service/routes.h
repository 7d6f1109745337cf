// Route documents: where the broker sends a service's requests.
//
// Contract:
//  - The route document of a service is written to `scn:routes:{service_id}`:
//    {"service_id","tenant_id","name","endpoints":[{"replica_id","node_id",
//    "center_id","url":"http://{address}:{port}"}]}, endpoints being its
//    replicas in state 'ready' with a port, on nodes in status ready or
//    draining, ordered by replica id (so equal sets give equal text).
//  - A document is written (and the service id published on channel
//    `scn:routes`) only when its text differs from what Redis holds; one Lua
//    script compares, sets and publishes atomically. A missing key (Redis
//    flushed) therefore counts as a change and is repaired.
//  - Deleted services have their key removed (published when it existed).
//  - Returns how many documents changed; Redis or PostgreSQL failures are
//    Status values (nothing is half-published: the next refresh repairs).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::scheduler {

class RouteWriter {
 public:
  RouteWriter(db::PgPool& pool, redis::RedisClient& redis) : pool_(pool), redis_(redis) {}

  // The services named (uuids; others are ignored).
  Result<int> refresh(const std::vector<std::string>& service_ids);
  // Every service not deleted, and those deleted in the last hour.
  Result<int> refresh_all();

 private:
  Result<int> refresh_where(const std::vector<std::string>* ids);

  db::PgPool& pool_;
  redis::RedisClient& redis_;
};

}  // namespace scn::scheduler
