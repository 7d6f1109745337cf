// ServicesStore: a tenant's model services in PostgreSQL (table services;
// replicas are read, never written: the scheduler owns them).
//
// Contract:
//  - `scope` is the tenant a caller is limited to; "" means every tenant
//    (admin). A service of another tenant, a deleted one, or a malformed id
//    is kNotFound "service not found" - never distinguishable.
//  - create() checks, in ONE transaction holding the tenant row locked (so
//    concurrent launches cannot overrun the quota): the tenant exists
//    (kNotFound) and is active (kConflict); replicas plus the
//    replicas_wanted of the tenant's other live services stay within the
//    tenant's max_replicas (kUnprocessable naming field 'replicas'); the
//    name is free among the tenant's services that are not deleted
//    (kConflict). It writes the service (status 'pending') and one
//    audit_log row ("service.create").
//  - scale() sets a fixed count and turns autoscaling off (min/max NULL);
//    it keeps the status unless it was 'stopped' (then 'pending' when
//    replicas > 0); stop() sets replicas_wanted 0 and status 'stopped';
//    remove() sets status 'deleted' and deleted_at, freeing the name. Each
//    is one transaction with an audit row and an optimistic update on
//    services.version (re-read and retried once; then kConflict).
//  - replicas() lists a service's replicas with node, center and device,
//    omitting 'stopped' and 'lost' ones not updated for 10 minutes.
//  - Thread-safe as PgPool is; all failures are Status values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/principal.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

inline constexpr int kMaxReplicasPerService = 1000;  // the schema's bound

struct ServiceRecord {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string model_id;
  std::string model;         // the catalog model's name
  std::string quantization;  // of model_file_id
  std::string model_file_id;
  int replicas_wanted = 0;
  int replicas_ready = 0;
  int context_length = 0;
  std::string placement_json;  // a JSON object
  std::string status;
  std::optional<std::string> status_reason;
  std::string created_at;  // RFC 3339
  std::string updated_at;
  std::int64_t version = 0;
  // Autoscaling (sql/0003): off when min_replicas is unset.
  std::optional<int> min_replicas, max_replicas;
  double target_outstanding = 4;
  int idle_seconds = 300;
  int priority = 0;
  std::optional<double> target_ttft_ms;  // sql/0007; unset: no latency target
  std::optional<double> target_tokens_per_second;  // sql/0011; unset: no throughput target
};

// POST /api/v1/services/{id}/autoscale (and the same fields at creation).
struct AutoscaleSpec {
  int min_replicas = 0;
  int max_replicas = 1;
  std::optional<double> target_outstanding;  // unset: keep (default 4)
  std::optional<int> idle_seconds;           // unset: keep (default 300)
  std::optional<double> target_ttft_ms;      // unset: keep (default none)
  bool clear_target_ttft = false;            // JSON null: remove the target
  std::optional<double> target_tokens_per_second;  // per replica; unset: keep (default none)
  bool clear_target_tokens = false;                // JSON null: remove the target
};

struct ReplicaRecord {
  std::string id;
  std::string state;
  std::optional<std::string> reason;     // latest: why pending, progress, failure
  std::optional<std::string> placement;  // why here (set when bound)
  std::optional<std::string> node_id, node_name, center_id, center_name;
  std::optional<std::string> device_kind, device_model;
  std::string device_indices_json = "[]";  // a JSON array of integers
  std::optional<int> port;
  int restarts = 0;
  std::optional<std::string> scheduled_at, ready_at;
  // The service's model file on the replica's node, as its agent reports it
  // (node_model_files): state ('downloading', 'present', 'failed') and bytes
  // held; nullopt when the node reports nothing of it (or no node yet).
  std::optional<std::string> file_state;
  std::int64_t file_bytes_present = 0;
  std::int64_t file_size_bytes = 0;  // model_files.size_bytes
};

struct NewService {
  std::string tenant_id;
  std::string name;
  std::string model_id;
  std::string model_file_id;
  int replicas = 1;
  int context_length = 0;
  std::string placement_json = "{}";
  std::string created_by;  // a user id, or "" (API keys)
  std::optional<AutoscaleSpec> autoscale;  // replicas_wanted starts at `replicas` clamped into it
  int priority = 0;
};

class ServicesStore {
 public:
  explicit ServicesStore(db::PgPool& pg) : pg_(pg) {}

  Result<ServiceRecord> create(const NewService& spec, const Actor& actor);
  // Live services (not deleted) of `tenant_id` ("" = all), oldest first.
  Result<std::vector<ServiceRecord>> list(std::string_view tenant_id);
  Result<ServiceRecord> get(std::string_view id, std::string_view scope);
  Result<std::vector<ReplicaRecord>> replicas(std::string_view service_id);
  Result<ServiceRecord> scale(std::string_view id, std::string_view scope, int replicas,
                              const Actor& actor);
  // Turns autoscaling on or changes its bounds: max_replicas counts against
  // the tenant's max_replicas like `replicas` does (422 naming
  // 'max_replicas'); replicas_wanted is clamped into [min, max]; a stopped
  // service becomes pending when that is > 0. Audit "service.autoscale".
  Result<ServiceRecord> autoscale(std::string_view id, std::string_view scope,
                                  const AutoscaleSpec& spec, const Actor& actor);
  Result<ServiceRecord> stop(std::string_view id, std::string_view scope, const Actor& actor);
  Status remove(std::string_view id, std::string_view scope, const Actor& actor);

 private:
  db::PgPool& pg_;
};

}  // namespace scn::broker
