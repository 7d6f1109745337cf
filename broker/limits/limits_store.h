// Limits and key scopes in PostgreSQL (sql/0006_rate_limits.sql): what the
// rate limiter reads and what /api/v1 changes.
//
// Contract:
//  - load_key_policy(pg, key_id) answers the key's tenant, the key's and the
//    tenant's limits and the key's service scope (nullopt: every service of
//    its tenant); kNotFound for an unknown key. One read-only query.
//  - get_tenant_limits / update_tenant_limits: the tenant's four rate limits
//    plus max_replicas (tenants.max_replicas, checked when services scale)
//    and max_gpus (tenants.quota_gpus, checked by the scheduler at
//    placement). update applies a LimitsPatch (absent: unchanged, null:
//    unlimited) and writes one audit row (tenant.limits) in one
//    transaction. kNotFound for an unknown tenant (or a malformed id).
//  - get_api_key / update_api_key see only keys of `tenant_scope` ("" =
//    any: admins); others are kNotFound. update applies the patch and the
//    scope: `services` (when present) names services of the key's tenant,
//    not deleted, by id or name (kNotFound "field 'services' names no
//    service 'x'"; 1..100 of them, duplicates merged), or is null (every
//    service). With `within_tenant`, the resulting limits must respect the
//    tenant's (check_key_within_tenant, 422). One audit row (api_key.update),
//    one transaction, the key row locked.
//  - No exceptions cross this header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unordered_map>

#include "broker/limits/limits.h"
#include "broker/principal.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker::limits {

struct KeyPolicy {
  std::string tenant_id;
  std::string api_key_id;
  RateLimits tenant;
  RateLimits key;
  std::optional<std::vector<std::string>> service_ids;  // nullopt: every service

  bool may_use(std::string_view service_id) const;
};

Result<KeyPolicy> load_key_policy(db::PgPool& pg, std::string_view api_key_id);

struct TenantLimits {
  std::string tenant_id;
  RateLimits limits;
  int max_replicas = 0;
  std::optional<std::int64_t> max_gpus;
};

Result<TenantLimits> get_tenant_limits(db::PgPool& pg, std::string_view tenant_id);
Result<TenantLimits> update_tenant_limits(db::PgPool& pg, std::string_view tenant_id, const LimitsPatch& patch,
                                          const Actor& actor);

struct ServiceRefName {
  std::string id;
  std::string name;
};

struct ApiKeyView {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string prefix;
  std::string created_at;
  std::string expires_at;  // "" when never
  std::string revoked_at;  // "" when not revoked
  RateLimits limits;
  std::optional<std::vector<ServiceRefName>> services;  // nullopt: every service
};

struct ServicesPatch {
  bool present = false;
  std::optional<std::vector<std::string>> names_or_ids;  // nullopt with present: every service
};

Result<ApiKeyView> get_api_key(db::PgPool& pg, std::string_view key_id, std::string_view tenant_scope);
// The limits and service scopes (id and name) of every key of a tenant
// (tenant_scope "" = every tenant), by key id; in two queries (the key list).
Result<std::unordered_map<std::string, ApiKeyView>> list_key_limits(db::PgPool& pg,
                                                                    std::string_view tenant_scope);
Result<ApiKeyView> update_api_key(db::PgPool& pg, std::string_view key_id, std::string_view tenant_scope,
                                  const LimitsPatch& patch, const ServicesPatch& services, bool within_tenant,
                                  const Actor& actor);

}  // namespace scn::broker::limits
