// RouteTable: where the gateway sends a tenant's request - the service a
// model name stands for, and the ready replicas of that service.
//
// Contract:
//  - find_service(tenant, name) is the tenant's service of that name among
//    the services not deleted (PostgreSQL); kNotFound when there is none
//    (also when another tenant has one of that name).
//  - endpoints(service_id) are the service's ready replicas: the Redis key
//    `scn:routes:{service_id}` (docs/API.md, written by the scheduler) when
//    it exists; when it is missing or Redis fails, PostgreSQL: replicas in
//    state 'ready' with a port, on nodes whose status is ready or draining,
//    as http://{nodes.address}:{port}. An empty list means no ready replica.
//  - Both answers are cached for `ttl`; while PostgreSQL is unreachable
//    (kUnavailable) find_service() answers the last known service past its
//    ttl (until invalidated). invalidate(service_id) forgets one
//    service, clear() everything. The subscriber thread (start()) listens on
//    the channel `scn:routes` (payload: a service id) and invalidates that
//    service; whenever it (re)subscribes it clears the whole cache, since
//    messages published meanwhile were lost.
//  - Thread-safe. Failures of PostgreSQL are returned as their Status.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::broker {

struct Endpoint {
  std::string replica_id;
  std::string node_id;
  std::string center_id;
  std::string url;  // "http://127.0.0.1:21001"
  // The replica's worker secret, sent as "Authorization: Bearer ..." by
  // forward_once ("" = none; set by the gateway, not from the routes).
  std::string worker_secret;
};

struct ServiceRef {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string status;
  bool scales_to_zero = false;  // autoscaled with min_replicas 0 (sql/0003)
  std::string model;            // models.name of the service's model
};

inline constexpr const char* kRoutesChannel = "scn:routes";
std::string routes_key(const std::string& service_id);  // "scn:routes:{id}"

// Parses the JSON of a `scn:routes:{id}` key; kInvalidArgument when malformed.
Result<std::vector<Endpoint>> parse_routes_json(std::string_view text);

// Workers serve TLS (scn broker --worker-tls, issue 9): endpoint URLs use
// https:// instead of the http:// the scheduler publishes. Process-wide;
// set once at start-up.
void set_worker_tls(bool on);
bool worker_tls();

class RouteTable {
 public:
  RouteTable(db::PgPool& pg, redis::RedisClient& redis, std::string redis_url,
             std::chrono::milliseconds ttl);
  ~RouteTable();  // stop()s
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  Result<ServiceRef> find_service(const std::string& tenant_id, const std::string& name);
  Result<std::vector<Endpoint>> endpoints(const std::string& service_id);
  // The same answers when cached and fresh (no PostgreSQL or Redis call);
  // nullopt otherwise.
  std::optional<ServiceRef> cached_service(const std::string& tenant_id, const std::string& name);
  std::optional<std::vector<Endpoint>> cached_endpoints(const std::string& service_id);

  void invalidate(const std::string& service_id);
  void clear();

  // Starts the pub/sub thread (kInvalidArgument for a bad Redis URL; a
  // server that is down is retried in the background).
  Status start();
  void stop();
  // True once the subscriber has subscribed at least once (tests).
  bool subscribed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
