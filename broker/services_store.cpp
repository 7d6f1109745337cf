#include "broker/services_store.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

const std::string& service_select() {
  static const std::string q =
      "SELECT s.id, s.tenant_id, s.name, s.model_id, m.name, f.quantization, s.model_file_id, "
      "s.replicas_wanted, "
      "(SELECT count(*) FROM replicas r WHERE r.service_id = s.id AND r.state = 'ready'), "
      "s.context_length, s.placement::text, s.status, s.status_reason, " +
      sql_time("s.created_at") + ", " + sql_time("s.updated_at") +
      ", s.version, s.min_replicas, s.max_replicas, s.target_outstanding, s.idle_seconds, "
      "s.priority, s.target_ttft_ms, s.target_tokens_per_second "
      "FROM services s JOIN models m ON m.id = s.model_id "
      "JOIN model_files f ON f.id = s.model_file_id ";
  return q;
}

ServiceRecord service_of_row(const pqxx::row& r) {
  ServiceRecord s;
  s.id = r[0].as<std::string>();
  s.tenant_id = r[1].as<std::string>();
  s.name = r[2].as<std::string>();
  s.model_id = r[3].as<std::string>();
  s.model = r[4].as<std::string>();
  s.quantization = r[5].as<std::string>();
  s.model_file_id = r[6].as<std::string>();
  s.replicas_wanted = r[7].as<int>();
  s.replicas_ready = r[8].as<int>();
  s.context_length = r[9].as<int>();
  s.placement_json = r[10].as<std::string>();
  s.status = r[11].as<std::string>();
  s.status_reason = opt_text(r[12]);
  s.created_at = r[13].as<std::string>();
  s.updated_at = r[14].as<std::string>();
  s.version = r[15].as<std::int64_t>();
  if (!r[16].is_null()) s.min_replicas = r[16].as<int>();
  if (!r[17].is_null()) s.max_replicas = r[17].as<int>();
  s.target_outstanding = r[18].as<double>();
  s.idle_seconds = r[19].as<int>();
  s.priority = r[20].as<int>();
  if (!r[21].is_null()) s.target_ttft_ms = r[21].as<double>();
  if (!r[22].is_null()) s.target_tokens_per_second = r[22].as<double>();
  return s;
}

Status not_found() { return Status::not_found("service not found"); }

// The live service `id` within `scope`, or kNotFound.
Result<ServiceRecord> read_service(pqxx::work& tx, std::string_view id, std::string_view scope) {
  if (!is_uuid(id) || (!scope.empty() && !is_uuid(scope))) return not_found();
  pqxx::result r = tx.exec_params(
      service_select() +
          "WHERE s.id = $1::uuid AND s.deleted_at IS NULL AND ($2 = '' OR s.tenant_id::text = $2)",
      std::string(id), std::string(scope));
  if (r.empty()) return not_found();
  return service_of_row(r[0]);
}

// Locks the tenant row; returns its max_replicas minus the replicas_wanted
// of its live services other than `except_service` (kNotFound / kConflict
// for a missing or suspended tenant).
Result<int> replicas_available(pqxx::work& tx, const std::string& tenant_id,
                               const std::string& except_service) {
  pqxx::result t = tx.exec_params(
      "SELECT status, max_replicas FROM tenants WHERE id = $1::uuid FOR UPDATE", tenant_id);
  if (t.empty()) return Status::not_found("field 'tenant_id': no such tenant");
  if (t[0][0].as<std::string>() != "active")
    return Status::conflict("tenant is " + t[0][0].as<std::string>());
  const int max_replicas = t[0][1].as<int>();
  const int used = tx.exec_params1(
                         "SELECT coalesce(sum(replicas_wanted), 0)::int FROM services "
                         "WHERE tenant_id = $1::uuid AND deleted_at IS NULL AND id::text <> $2",
                         tenant_id, except_service)[0]
                       .as<int>();
  return max_replicas - used;
}

Status check_replicas(int replicas, int available) {
  const int limit = std::min(available, kMaxReplicasPerService);
  if (replicas < 0 || replicas > limit) {
    return Status::unprocessable("field 'replicas' must be between 0 and " +
                                 std::to_string(std::max(limit, 0)) +
                                 " (the tenant's maximum, less the replicas of its other services)");
  }
  return Status::ok();
}

// A parameter that is NULL when unset (pqxx 6 takes a null const char*).
struct Nullable {
  std::string text;
  bool null = true;
  const char* c() const { return null ? nullptr : text.c_str(); }
};
Nullable nullable(std::optional<double> v) {
  if (!v) return {};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return {buf, false};
}

Status check_max_replicas(int max_replicas, int available) {
  const int limit = std::min(available, kMaxReplicasPerService);
  if (max_replicas < 1 || max_replicas > limit) {
    return Status::unprocessable("field 'max_replicas' must be between 1 and " +
                                 std::to_string(std::max(limit, 0)) +
                                 " (the tenant's maximum, less the replicas of its other services)");
  }
  return Status::ok();
}

AuditEntry audit_of(const ServiceRecord& s, std::string action) {
  AuditEntry e;
  e.action = std::move(action);
  e.target_kind = "service";
  e.target_id = s.id;
  e.tenant_id = s.tenant_id;
  e.details["name"] = s.name;
  return e;
}

// Runs `update` (an UPDATE ... WHERE id = $1 AND version = $2 returning the
// number of rows) against the current version, re-reading once when someone
// else changed the row in between.
using Update = std::function<Result<int>(pqxx::work&, const ServiceRecord&)>;
Result<ServiceRecord> optimistic(pqxx::work& tx, std::string_view id, std::string_view scope,
                                 const Update& update) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCN_ASSIGN_OR_RETURN(ServiceRecord s, read_service(tx, id, scope));
    SCN_ASSIGN_OR_RETURN(int rows, update(tx, s));
    if (rows == 1) return read_service(tx, s.id, "");
  }
  return Status::conflict("service was changed concurrently; try again");
}

int affected(const pqxx::result& r) { return static_cast<int>(r.affected_rows()); }

}  // namespace

Result<ServiceRecord> ServicesStore::create(const NewService& spec, const Actor& actor) {
  return pg_.with_tx([&](pqxx::work& tx) -> Result<ServiceRecord> {
    SCN_ASSIGN_OR_RETURN(int available, replicas_available(tx, spec.tenant_id, ""));
    int replicas = spec.replicas;
    if (spec.autoscale) {
      SCN_RETURN_IF_ERROR(check_max_replicas(spec.autoscale->max_replicas, available));
      replicas = std::clamp(replicas, spec.autoscale->min_replicas, spec.autoscale->max_replicas);
    } else {
      SCN_RETURN_IF_ERROR(check_replicas(spec.replicas, available));
    }
    if (!tx.exec_params("SELECT 1 FROM services WHERE tenant_id = $1::uuid AND name = $2 "
                        "AND deleted_at IS NULL",
                        spec.tenant_id, spec.name)
             .empty()) {
      return Status::conflict("field 'name': a service named '" + spec.name + "' already exists");
    }
    const std::string id =
        tx.exec_params1(
              "INSERT INTO services (tenant_id, name, model_id, model_file_id, replicas_wanted, "
              "context_length, placement, status, created_by, min_replicas, max_replicas, "
              "target_outstanding, idle_seconds, priority, target_ttft_ms, target_tokens_per_second) "
              "VALUES ($1::uuid, $2, $3::uuid, $4::uuid, $5, $6, $7::jsonb, 'pending', $8::uuid, "
              "$9::integer, $10::integer, COALESCE($11::float8, 4), COALESCE($12::integer, 300), $13, "
              "$14::float8, $15::float8) "
              "RETURNING id",
              spec.tenant_id, spec.name, spec.model_id, spec.model_file_id, replicas,
              spec.context_length, spec.placement_json,
              spec.created_by.empty() ? nullptr : spec.created_by.c_str(),
              nullable(spec.autoscale ? std::optional<double>(spec.autoscale->min_replicas) : std::nullopt).c(),
              nullable(spec.autoscale ? std::optional<double>(spec.autoscale->max_replicas) : std::nullopt).c(),
              nullable(spec.autoscale ? spec.autoscale->target_outstanding : std::nullopt).c(),
              nullable(spec.autoscale && spec.autoscale->idle_seconds
                           ? std::optional<double>(*spec.autoscale->idle_seconds)
                           : std::nullopt).c(),
              spec.priority,
              nullable(spec.autoscale ? spec.autoscale->target_ttft_ms : std::nullopt).c(),
              nullable(spec.autoscale ? spec.autoscale->target_tokens_per_second : std::nullopt).c())[0]
            .as<std::string>();
    SCN_ASSIGN_OR_RETURN(ServiceRecord s, read_service(tx, id, ""));
    AuditEntry e = audit_of(s, "service.create");
    e.details["model"] = s.model;
    e.details["quantization"] = s.quantization;
    e.details["replicas"] = s.replicas_wanted;
    write_audit(tx, actor, e);
    return s;
  });
}

Result<std::vector<ServiceRecord>> ServicesStore::list(std::string_view tenant_id) {
  if (!tenant_id.empty() && !is_uuid(tenant_id)) return std::vector<ServiceRecord>{};
  return pg_.with_tx(
      [&](pqxx::work& tx) -> Result<std::vector<ServiceRecord>> {
        std::vector<ServiceRecord> out;
        for (const auto& row : tx.exec_params(
                 service_select() +
                     "WHERE s.deleted_at IS NULL AND ($1 = '' OR s.tenant_id::text = $1) "
                     "ORDER BY s.created_at, s.id",
                 std::string(tenant_id))) {
          out.push_back(service_of_row(row));
        }
        return out;
      },
      {.read_only = true});
}

Result<ServiceRecord> ServicesStore::get(std::string_view id, std::string_view scope) {
  return pg_.with_tx([&](pqxx::work& tx) { return read_service(tx, id, scope); },
                     {.read_only = true});
}

Result<std::vector<ReplicaRecord>> ServicesStore::replicas(std::string_view service_id) {
  if (!is_uuid(service_id)) return not_found();
  return pg_.with_tx(
      [&](pqxx::work& tx) -> Result<std::vector<ReplicaRecord>> {
        std::vector<ReplicaRecord> out;
        for (const auto& r : tx.exec_params(
                 "SELECT r.id, r.state, r.reason, r.node_id, n.name, n.center_id, c.name, "
                 "d.kind, d.model, array_to_json(r.device_indices)::text, r.port, r.restarts, " +
                     sql_time("r.scheduled_at") + ", " + sql_time("r.ready_at") + ", r.placement" +
                     ", nmf.state, coalesce(nmf.bytes_present, 0), coalesce(mf.size_bytes, 0)"
                     " FROM replicas r LEFT JOIN nodes n ON n.id = r.node_id "
                     "LEFT JOIN services s ON s.id = r.service_id "
                     "LEFT JOIN model_files mf ON mf.id = s.model_file_id "
                     "LEFT JOIN node_model_files nmf ON nmf.node_id = r.node_id AND nmf.model_file_id = s.model_file_id "
                     "LEFT JOIN centers c ON c.id = n.center_id "
                     "LEFT JOIN devices d ON d.id = r.device_id "
                     "WHERE r.service_id = $1::uuid AND NOT (r.state IN ('stopped', 'lost') "
                     "AND r.updated_at < now() - interval '10 minutes') "
                     "ORDER BY r.created_at, r.id",
                 std::string(service_id))) {
          ReplicaRecord x;
          x.id = r[0].as<std::string>();
          x.state = r[1].as<std::string>();
          x.reason = opt_text(r[2]);
          x.node_id = opt_text(r[3]);
          x.node_name = opt_text(r[4]);
          x.center_id = opt_text(r[5]);
          x.center_name = opt_text(r[6]);
          x.device_kind = opt_text(r[7]);
          x.device_model = opt_text(r[8]);
          x.device_indices_json = r[9].is_null() ? "[]" : r[9].as<std::string>();
          if (!r[10].is_null()) x.port = r[10].as<int>();
          x.restarts = r[11].as<int>();
          x.scheduled_at = opt_text(r[12]);
          x.ready_at = opt_text(r[13]);
          x.placement = opt_text(r[14]);
          x.file_state = opt_text(r[15]);
          x.file_bytes_present = r[16].as<std::int64_t>();
          x.file_size_bytes = r[17].as<std::int64_t>();
          out.push_back(std::move(x));
        }
        return out;
      },
      {.read_only = true});
}

Result<ServiceRecord> ServicesStore::scale(std::string_view id, std::string_view scope,
                                           int replicas, const Actor& actor) {
  return pg_.with_tx([&](pqxx::work& tx) -> Result<ServiceRecord> {
    // Lock the tenant first (quota), then update the service optimistically.
    SCN_ASSIGN_OR_RETURN(ServiceRecord before, read_service(tx, id, scope));
    SCN_ASSIGN_OR_RETURN(int available, replicas_available(tx, before.tenant_id, before.id));
    SCN_RETURN_IF_ERROR(check_replicas(replicas, available));
    SCN_ASSIGN_OR_RETURN(
        ServiceRecord s, optimistic(tx, id, scope, [&](pqxx::work& t, const ServiceRecord& cur) {
          return Result<int>(affected(t.exec_params(
              "UPDATE services SET replicas_wanted = $3, min_replicas = NULL, max_replicas = NULL, "
              "status = CASE WHEN status = 'stopped' "
              "AND $3 > 0 THEN 'pending' ELSE status END, "
              "status_reason = CASE WHEN status = 'stopped' AND $3 > 0 THEN NULL "
              "ELSE status_reason END, version = version + 1 "
              "WHERE id = $1::uuid AND version = $2 AND deleted_at IS NULL",
              cur.id, cur.version, replicas)));
        }));
    AuditEntry e = audit_of(s, "service.scale");
    e.details["from"] = before.replicas_wanted;
    e.details["replicas"] = replicas;
    write_audit(tx, actor, e);
    return s;
  });
}

Result<ServiceRecord> ServicesStore::autoscale(std::string_view id, std::string_view scope,
                                               const AutoscaleSpec& spec, const Actor& actor) {
  return pg_.with_tx([&](pqxx::work& tx) -> Result<ServiceRecord> {
    SCN_ASSIGN_OR_RETURN(ServiceRecord before, read_service(tx, id, scope));
    SCN_ASSIGN_OR_RETURN(int available, replicas_available(tx, before.tenant_id, before.id));
    SCN_RETURN_IF_ERROR(check_max_replicas(spec.max_replicas, available));
    SCN_ASSIGN_OR_RETURN(
        ServiceRecord s, optimistic(tx, id, scope, [&](pqxx::work& t, const ServiceRecord& cur) {
          const int wanted = std::clamp(cur.replicas_wanted, spec.min_replicas, spec.max_replicas);
          return Result<int>(affected(t.exec_params(
              "UPDATE services SET min_replicas = $3, max_replicas = $4, "
              "target_outstanding = COALESCE($5::float8, target_outstanding), "
              "idle_seconds = COALESCE($6::integer, idle_seconds), replicas_wanted = $7, "
              "target_ttft_ms = CASE WHEN $8::boolean THEN NULL ELSE COALESCE($9::float8, target_ttft_ms) END, "
              "target_tokens_per_second = CASE WHEN $10::boolean THEN NULL "
              "ELSE COALESCE($11::float8, target_tokens_per_second) END, "
              "status = CASE WHEN status = 'stopped' AND $7 > 0 THEN 'pending' ELSE status END, "
              "status_reason = CASE WHEN status = 'stopped' AND $7 > 0 THEN NULL "
              "ELSE status_reason END, version = version + 1 "
              "WHERE id = $1::uuid AND version = $2 AND deleted_at IS NULL",
              cur.id, cur.version, spec.min_replicas, spec.max_replicas,
              nullable(spec.target_outstanding).c(),
              nullable(spec.idle_seconds ? std::optional<double>(*spec.idle_seconds) : std::nullopt).c(),
              wanted, spec.clear_target_ttft, nullable(spec.target_ttft_ms).c(), spec.clear_target_tokens,
              nullable(spec.target_tokens_per_second).c())));
        }));
    AuditEntry e = audit_of(s, "service.autoscale");
    e.details["min_replicas"] = spec.min_replicas;
    e.details["max_replicas"] = spec.max_replicas;
    write_audit(tx, actor, e);
    return s;
  });
}

Result<ServiceRecord> ServicesStore::stop(std::string_view id, std::string_view scope,
                                          const Actor& actor) {
  return pg_.with_tx([&](pqxx::work& tx) -> Result<ServiceRecord> {
    SCN_ASSIGN_OR_RETURN(
        ServiceRecord s, optimistic(tx, id, scope, [&](pqxx::work& t, const ServiceRecord& cur) {
          return Result<int>(affected(t.exec_params(
              "UPDATE services SET replicas_wanted = 0, status = 'stopped', status_reason = $3, "
              "version = version + 1 WHERE id = $1::uuid AND version = $2 AND deleted_at IS NULL",
              cur.id, cur.version, "stopped by " + actor.name)));
        }));
    write_audit(tx, actor, audit_of(s, "service.stop"));
    return s;
  });
}

Status ServicesStore::remove(std::string_view id, std::string_view scope, const Actor& actor) {
  return pg_.with_tx([&](pqxx::work& tx) -> Status {
    ServiceRecord removed;
    for (int attempt = 0;; ++attempt) {
      SCN_ASSIGN_OR_RETURN(ServiceRecord cur, read_service(tx, id, scope));
      pqxx::result r = tx.exec_params(
          "UPDATE services SET replicas_wanted = 0, status = 'deleted', deleted_at = now(), "
          "status_reason = $3, version = version + 1 "
          "WHERE id = $1::uuid AND version = $2 AND deleted_at IS NULL",
          cur.id, cur.version, "deleted by " + actor.name);
      if (r.affected_rows() == 1) {
        removed = std::move(cur);
        break;
      }
      if (attempt == 1) return Status::conflict("service was changed concurrently; try again");
    }
    write_audit(tx, actor, audit_of(removed, "service.delete"));
    return Status::ok();
  });
}

}  // namespace scn::broker
