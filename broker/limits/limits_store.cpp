#include "broker/limits/limits_store.h"

#include <algorithm>

#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker::limits {
namespace {

constexpr db::TxOptions kReadOnly{.read_only = true};

// The four limit columns of a table alias, in RateLimits order.
std::string limit_columns(std::string_view alias) {
  const std::string a(alias);
  return a + ".limit_requests_per_minute, " + a + ".limit_tokens_per_minute, " + a +
         ".limit_concurrent_requests, " + a + ".limit_monthly_tokens";
}

std::optional<std::int64_t> opt_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

RateLimits read_limits(const pqxx::row& row, int first) {
  RateLimits l;
  l.requests_per_minute = opt_int(row[first]);
  l.tokens_per_minute = opt_int(row[first + 1]);
  l.max_concurrent_requests = opt_int(row[first + 2]);
  l.monthly_token_budget = opt_int(row[first + 3]);
  return l;
}

std::vector<std::string> split_ids(const pqxx::field& f) {
  std::vector<std::string> out;
  if (f.is_null()) return out;
  const std::string text = f.as<std::string>();
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Parameters for "$n::bigint" columns: NULL or the number's text.
std::optional<std::string> param(const std::optional<std::int64_t>& v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}

boost::json::value json_opt(const std::optional<std::int64_t>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

Result<TenantLimits> read_tenant(pqxx::work& tx, const std::string& id, bool for_update) {
  pqxx::result r = tx.exec_params("SELECT t.id, " + limit_columns("t") +
                                      ", t.max_replicas, t.quota_gpus FROM tenants t WHERE t.id = $1::uuid" +
                                      (for_update ? " FOR UPDATE" : ""),
                                  id);
  if (r.empty()) return Status::not_found("tenant not found");
  TenantLimits t;
  t.tenant_id = r[0][0].as<std::string>();
  t.limits = read_limits(r[0], 1);
  t.max_replicas = r[0][5].as<int>();
  t.max_gpus = opt_int(r[0][6]);
  return t;
}

Result<ApiKeyView> read_key(pqxx::work& tx, const std::string& id, const std::string& tenant_scope,
                            bool for_update) {
  pqxx::result r = tx.exec_params(
      "SELECT k.id, k.tenant_id, k.name, k.prefix, " + sql_time("k.created_at") + ", " +
          sql_time("k.expires_at") + ", " + sql_time("k.revoked_at") + ", " + limit_columns("k") +
          ", array_to_string(k.service_ids, ',') FROM api_keys k"
          " WHERE k.id = $1::uuid AND ($2 = '' OR k.tenant_id = $2::uuid)" +
          (for_update ? " FOR UPDATE" : ""),
      id, tenant_scope);
  if (r.empty()) return Status::not_found("API key not found");
  const auto& row = r[0];
  ApiKeyView k;
  k.id = row[0].as<std::string>();
  k.tenant_id = row[1].as<std::string>();
  k.name = row[2].as<std::string>();
  k.prefix = row[3].as<std::string>();
  k.created_at = row[4].as<std::string>();
  k.expires_at = opt_text(row[5]).value_or("");
  k.revoked_at = opt_text(row[6]).value_or("");
  k.limits = read_limits(row, 7);
  if (!row[11].is_null()) {
    std::vector<ServiceRefName> services;
    for (const auto& sid : split_ids(row[11])) {
      pqxx::result s = tx.exec_params("SELECT name FROM services WHERE id = $1::uuid", sid);
      services.push_back({sid, s.empty() ? std::string() : s[0][0].as<std::string>()});
    }
    k.services = std::move(services);
  }
  return k;
}

// Ids of the tenant's live services named (by id or name) in `names`.
Result<std::vector<std::string>> resolve_services(pqxx::work& tx, const std::string& tenant,
                                                  const std::vector<std::string>& names) {
  if (names.empty() || names.size() > 100) {
    return Status::unprocessable("field 'services' must name 1..100 services (or be null: every service)");
  }
  std::vector<std::string> ids;
  for (const auto& n : names) {
    pqxx::result r = tx.exec_params(
        "SELECT id FROM services WHERE tenant_id = $1::uuid AND deleted_at IS NULL"
        " AND (name = $2 OR id::text = lower($2)) ORDER BY name = $2 DESC LIMIT 1",
        tenant, n);
    if (r.empty()) return Status::not_found("field 'services' names no service '" + n + "'");
    std::string id = r[0][0].as<std::string>();
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
  }
  return ids;
}

}  // namespace

bool KeyPolicy::may_use(std::string_view service_id) const {
  if (!service_ids) return true;
  return std::find(service_ids->begin(), service_ids->end(), service_id) != service_ids->end();
}

Result<KeyPolicy> load_key_policy(db::PgPool& pg, std::string_view api_key_id) {
  if (!is_uuid(api_key_id)) return Status::not_found("API key not found");
  const std::string id(api_key_id);
  return pg.with_tx(
      [&](pqxx::work& tx) -> Result<KeyPolicy> {
        pqxx::result r = tx.exec_params("SELECT k.tenant_id, " + limit_columns("t") + ", " + limit_columns("k") +
                                            ", array_to_string(k.service_ids, ','), k.service_ids IS NULL"
                                            " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
                                            " WHERE k.id = $1::uuid",
                                        id);
        if (r.empty()) return Status::not_found("API key not found");
        KeyPolicy p;
        p.api_key_id = id;
        p.tenant_id = r[0][0].as<std::string>();
        p.tenant = read_limits(r[0], 1);
        p.key = read_limits(r[0], 5);
        if (!r[0][10].as<bool>()) p.service_ids = split_ids(r[0][9]);
        return p;
      },
      kReadOnly);
}

Result<TenantLimits> get_tenant_limits(db::PgPool& pg, std::string_view tenant_id) {
  if (!is_uuid(tenant_id)) return Status::not_found("tenant not found");
  const std::string id(tenant_id);
  return pg.with_tx([&](pqxx::work& tx) { return read_tenant(tx, id, false); }, kReadOnly);
}

Result<TenantLimits> update_tenant_limits(db::PgPool& pg, std::string_view tenant_id, const LimitsPatch& patch,
                                          const Actor& actor) {
  if (!is_uuid(tenant_id)) return Status::not_found("tenant not found");
  const std::string id(tenant_id);
  return pg.with_tx([&](pqxx::work& tx) -> Result<TenantLimits> {
    SCN_ASSIGN_OR_RETURN(TenantLimits t, read_tenant(tx, id, true));
    t.limits = patch.apply(t.limits);
    if (patch.max_replicas.present && patch.max_replicas.value) {
      t.max_replicas = static_cast<int>(*patch.max_replicas.value);
    }
    if (patch.max_gpus.present) t.max_gpus = patch.max_gpus.value;
    tx.exec_params(
        "UPDATE tenants SET limit_requests_per_minute = $2::bigint, limit_tokens_per_minute = $3::bigint,"
        " limit_concurrent_requests = $4::integer, limit_monthly_tokens = $5::bigint, max_replicas = $6,"
        " quota_gpus = $7::integer, updated_at = now() WHERE id = $1::uuid",
        id, param(t.limits.requests_per_minute), param(t.limits.tokens_per_minute),
        param(t.limits.max_concurrent_requests), param(t.limits.monthly_token_budget), t.max_replicas,
        param(t.max_gpus));
    AuditEntry e{"tenant.limits", "tenant", id, id, "", limits_json(t.limits)};
    e.details["max_replicas"] = t.max_replicas;
    e.details["max_gpus"] = json_opt(t.max_gpus);
    write_audit(tx, actor, e);
    return t;
  });
}

Result<ApiKeyView> get_api_key(db::PgPool& pg, std::string_view key_id, std::string_view tenant_scope) {
  if (!is_uuid(key_id) || (!tenant_scope.empty() && !is_uuid(tenant_scope))) {
    return Status::not_found("API key not found");
  }
  const std::string id(key_id), scope(tenant_scope);
  return pg.with_tx([&](pqxx::work& tx) { return read_key(tx, id, scope, false); }, kReadOnly);
}

Result<std::unordered_map<std::string, ApiKeyView>> list_key_limits(db::PgPool& pg,
                                                                    std::string_view tenant_scope) {
  if (!tenant_scope.empty() && !is_uuid(tenant_scope)) return std::unordered_map<std::string, ApiKeyView>{};
  const std::string scope(tenant_scope);
  return pg.with_tx(
      [&](pqxx::work& tx) -> Result<std::unordered_map<std::string, ApiKeyView>> {
        std::unordered_map<std::string, ApiKeyView> out;
        for (const auto& row : tx.exec_params("SELECT k.id, k.tenant_id, " + limit_columns("k") +
                                                  ", array_to_string(k.service_ids, ',') FROM api_keys k"
                                                  " WHERE $1 = '' OR k.tenant_id::text = $1",
                                              scope)) {
          ApiKeyView k;
          k.id = row[0].as<std::string>();
          k.tenant_id = row[1].as<std::string>();
          k.limits = read_limits(row, 2);
          if (!row[6].is_null()) {
            std::vector<ServiceRefName> services;
            for (auto& sid : split_ids(row[6])) services.push_back({std::move(sid), ""});
            k.services = std::move(services);
          }
          out.emplace(k.id, std::move(k));
        }
        // The names of the scoped services, in one query.
        std::unordered_map<std::string, std::string> names;
        for (const auto& row : tx.exec_params(
                 "SELECT s.id, s.name FROM services s WHERE s.id IN (SELECT unnest(k.service_ids) FROM api_keys k"
                 " WHERE k.service_ids IS NOT NULL AND ($1 = '' OR k.tenant_id::text = $1))",
                 scope)) {
          names.emplace(row[0].as<std::string>(), row[1].as<std::string>());
        }
        for (auto& [id, k] : out) {
          if (!k.services) continue;
          for (auto& s : *k.services) {
            auto it = names.find(s.id);
            if (it != names.end()) s.name = it->second;
          }
        }
        return out;
      },
      kReadOnly);
}

Result<ApiKeyView> update_api_key(db::PgPool& pg, std::string_view key_id, std::string_view tenant_scope,
                                  const LimitsPatch& patch, const ServicesPatch& services, bool within_tenant,
                                  const Actor& actor) {
  if (!is_uuid(key_id) || (!tenant_scope.empty() && !is_uuid(tenant_scope))) {
    return Status::not_found("API key not found");
  }
  const std::string id(key_id), scope(tenant_scope);
  return pg.with_tx([&](pqxx::work& tx) -> Result<ApiKeyView> {
    SCN_ASSIGN_OR_RETURN(ApiKeyView k, read_key(tx, id, scope, true));
    k.limits = patch.apply(k.limits);
    if (within_tenant) {
      SCN_ASSIGN_OR_RETURN(TenantLimits t, read_tenant(tx, k.tenant_id, false));
      SCN_RETURN_IF_ERROR(check_key_within_tenant(k.limits, t.limits, "limits."));
    }
    std::optional<std::string> ids_param;
    if (services.present) {
      if (services.names_or_ids) {
        SCN_ASSIGN_OR_RETURN(auto ids, resolve_services(tx, k.tenant_id, *services.names_or_ids));
        std::string arr = "{";
        for (std::size_t i = 0; i < ids.size(); ++i) arr += (i ? "," : "") + ids[i];
        ids_param = arr + "}";
      }
    } else if (k.services) {
      std::string arr = "{";
      for (std::size_t i = 0; i < k.services->size(); ++i) arr += (i ? "," : "") + (*k.services)[i].id;
      ids_param = arr + "}";
    }
    tx.exec_params(
        "UPDATE api_keys SET limit_requests_per_minute = $2::bigint, limit_tokens_per_minute = $3::bigint,"
        " limit_concurrent_requests = $4::integer, limit_monthly_tokens = $5::bigint,"
        " service_ids = $6::uuid[] WHERE id = $1::uuid",
        id, param(k.limits.requests_per_minute), param(k.limits.tokens_per_minute),
        param(k.limits.max_concurrent_requests), param(k.limits.monthly_token_budget), ids_param);
    SCN_ASSIGN_OR_RETURN(ApiKeyView updated, read_key(tx, id, scope, false));
    AuditEntry e{"api_key.update", "api_key", id, updated.tenant_id, "", limits_json(updated.limits)};
    if (updated.services) {
      boost::json::array names;
      for (const auto& s : *updated.services) names.emplace_back(s.name);
      e.details["services"] = std::move(names);
    } else {
      e.details["services"] = nullptr;
    }
    write_audit(tx, actor, e);
    return updated;
  });
}

}  // namespace scn::broker::limits
