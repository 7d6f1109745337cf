// The agents' API of `scn scheduler` (docs/API.md, "scn scheduler — agents'
// API"): POST /agent/v1/register and POST /agent/v1/heartbeat.
//
// Contract:
//  - register_node(): body {"join_token","name","address","labels"?,
//    "simulated"?,"devices":[{"kind","model","memory_bytes","count"}]}.
//    Missing fields or wrong types: kInvalidArgument (400). Values out of
//    range: kUnprocessable (422): a name that is not [A-Za-z0-9][A-Za-z0-9._-]
//    (1..253), an address with spaces or '/', devices without exactly one
//    cpu entry, a kind other than cpu/gpu, counts outside 1..4096, memory
//    <= 0, GPU entries of one model with different memory. GPU entries of
//    one model are grouped into one devices row (counts summed).
//    The token (by its sha256) must exist, not be expired, revoked or used
//    up, else kUnauthenticated (401). A node of that name in the token's
//    center that is not removed: kConflict (409); a removed one is renamed
//    "<name>.removed.<id prefix>" to free the name. In ONE transaction: the
//    token's uses + 1, the node (secret scn-node-..., only its sha256 stored),
//    its devices, an audit row (actor 'node', action node.register).
//    Slurm nodes (issue 10): "managed_by"/"slurm" as in slurm_report.h; the
//    node starts in the status its Slurm state maps to (slurm_state.h).
//  - heartbeat(): `authorization` is the Authorization header ("Bearer
//    <secret>"); an unknown secret is kUnauthenticated, a body node_id that
//    is not the secret's node too. A removed node answers `removed` (the
//    HTTP layer answers 410). Otherwise, in one transaction: last_heartbeat_at
//    = now() (a lost node becomes ready again; a Slurm node's status follows
//    its "slurm" report instead: slurm_state.h, with its replicas lost at
//    once when Slurm says down, an audit row node.slurm_state and a wake on
//    scn:scheduler:wake), node_model_files synced to
//    `models` when given (rows not listed are deleted), the reported replica
//    states applied to the node's replicas (see apply rules in agent_heartbeat.cpp),
//    and the desired set read; each desired replica carries its
//    worker_secret (common/crypto/worker_secret.h; the cluster key is read
//    by install() and cached; a failure there is retried by the heartbeat). Then Redis: alive key and status key with
//    the node TTL (a Redis failure is logged, not an error: PostgreSQL is
//    the truth), and the routes of services whose ready set changed.
//  - install() adds both routes to a server (handlers map Status to the
//    JSON error body; bodies over 1 MiB are 413 by the server's limit).
//  - Thread-safe (PgPool and RedisClient are).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/crypto/worker_secret.h"
#include "common/status.h"
#include "scheduler/service/service_context.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}
namespace scn::http {
class Server;
}

namespace scn::scheduler {

class RouteWriter;

struct Registration {
  std::string node_id;
  std::string node_secret;
  std::string center_id;
  std::string to_json(const SchedulerConfig& config) const;  // the 201 body
};

// The client certificate of the connection a heartbeat came over (TLS).
struct PeerCert {
  bool presented = false;               // a verified client certificate
  std::optional<std::string> node_id;   // its SAN URI scn:node:<uuid>
};

struct HeartbeatAnswer {
  bool removed = false;  // the node was removed: answer 410
  std::string body;      // the 200 body (when not removed)
};

class AgentApi {
 public:
  AgentApi(db::PgPool& pool, redis::RedisClient& redis, RouteWriter& routes,
           SchedulerConfig config, SchedulerMetrics& metrics)
      : pool_(pool), redis_(redis), routes_(routes), config_(config), metrics_(metrics), secrets_(pool) {}

  Result<Registration> register_node(std::string_view body);
  // `peer`: with a client certificate presented (or require_client_cert),
  // the certificate must be bound to the secret's node, else
  // kPermissionDenied (403; tls::check_node_binding) and nothing changes.
  Result<HeartbeatAnswer> heartbeat(std::string_view authorization, std::string_view body,
                                    const PeerCert& peer = {});
  void set_require_client_cert(bool require) { require_client_cert_ = require; }

  void install(http::Server& server);

 private:
  db::PgPool& pool_;
  redis::RedisClient& redis_;
  RouteWriter& routes_;
  SchedulerConfig config_;
  SchedulerMetrics& metrics_;
  crypto::WorkerSecrets secrets_;  // each desired replica's worker_secret
  bool require_client_cert_ = false;  // heartbeats need a node-bound certificate
};

}  // namespace scn::scheduler
