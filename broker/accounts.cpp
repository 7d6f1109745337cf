#include "broker/accounts.h"

#include <boost/json.hpp>

#include <cmath>

#include "broker/account_checks.h"
#include "broker/resource_util.h"
#include "common/db/pg.h"
#include "common/json.h"

namespace scn::broker {
namespace {

const char* nullable(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

// Replaces PgPool's message for a unique violation with a readable one.
template <typename T>
Result<T> name_taken_as(Result<T> r, const std::string& what) {
  if (!r.is_ok() && r.status().code() == Code::kConflict &&
      r.status().message().find("already exists") == std::string::npos) {
    return Status::conflict(what + " already exists");
  }
  return r;
}

const std::string kTenantColumns =
    "id::text, name, display_name, status, array_to_json(allowed_regions)::text, max_replicas, " +
    sql_time("created_at");

TenantInfo tenant_of(const pqxx::row& row) {
  TenantInfo t;
  t.id = row[0].as<std::string>();
  t.name = row[1].as<std::string>();
  t.display_name = row[2].as<std::string>();
  t.status = row[3].as<std::string>();
  if (!row[4].is_null()) {
    auto parsed = common::parse_json(row[4].as<std::string>());
    std::vector<std::string> regions;
    if (parsed.is_ok() && parsed->is_array()) {
      for (const auto& v : parsed->as_array()) {
        if (v.is_string()) regions.emplace_back(v.as_string());
      }
    }
    t.allowed_regions = std::move(regions);
  }
  t.max_replicas = row[5].as<int>();
  t.created_at = row[6].as<std::string>();
  return t;
}

const std::string kCenterColumns =
    "id::text, name, region, price_gpu_hour::float8, price_cpu_core_hour::float8, currency, status, " +
    sql_time("created_at");

CenterInfo center_of(const pqxx::row& row) {
  CenterInfo c;
  c.id = row[0].as<std::string>();
  c.name = row[1].as<std::string>();
  c.region = row[2].as<std::string>();
  c.price_gpu_hour = row[3].as<double>();
  c.price_cpu_core_hour = row[4].as<double>();
  c.currency = row[5].as<std::string>();
  c.status = row[6].as<std::string>();
  c.created_at = row[7].as<std::string>();
  return c;
}

const std::string kUserColumns = "id::text, username, role, tenant_id::text, center_id::text, " +
                                 sql_time("created_at") + ", coalesce(display_name, ''), disabled_at IS NOT NULL";

UserInfo user_of(const pqxx::row& row) {
  UserInfo u;
  u.id = row[0].as<std::string>();
  u.username = row[1].as<std::string>();
  auto role = parse_role(row[2].as<std::string>());
  u.role = role.is_ok() ? *role : Role::kMember;
  u.tenant_id = row[3].is_null() ? "" : row[3].as<std::string>();
  u.center_id = row[4].is_null() ? "" : row[4].as<std::string>();
  u.created_at = row[5].as<std::string>();
  u.display_name = row[6].as<std::string>();
  u.disabled = row[7].as<bool>();
  return u;
}

// The id of a tenant / center given by id or name, inside `tx`.
Result<std::string> resolve_id(pqxx::work& tx, const char* table, const char* what,
                               std::string_view id_or_name) {
  if (id_or_name.empty()) return Status::not_found(std::string(what) + " not given");
  std::string sql = std::string("SELECT id::text FROM ") + table +
                    (is_uuid(id_or_name) ? " WHERE id = $1::uuid" : " WHERE name = $1");
  pqxx::result r = tx.exec_params(sql, std::string(id_or_name));
  if (r.empty()) {
    return Status::not_found(std::string(what) + " '" + common::sanitize_utf8(id_or_name.substr(0, 100)) +
                             "' not found");
  }
  return r[0][0].as<std::string>();
}

Status check_price(std::string_view field, double value, double max) {
  if (!std::isfinite(value) || value < 0 || value >= max) {
    return Status::unprocessable("field '" + std::string(field) + "' must be a number from 0 to below " +
                                 std::to_string(static_cast<long long>(max)));
  }
  return Status::ok();
}

std::string json_array(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return common::to_json(a);
}

}  // namespace

// ---------------------------------------------------------------- tenants

Result<TenantInfo> create_tenant(db::PgPool& pg, const NewTenant& spec, const Actor& actor) {
  SCN_RETURN_IF_ERROR(check_slug("name", spec.name));
  const std::string display = spec.display_name.empty() ? spec.name : spec.display_name;
  SCN_RETURN_IF_ERROR(check_text("display_name", display, 1, 200));
  if (spec.allowed_regions) {
    if (spec.allowed_regions->size() > 100) {
      return Status::invalid_argument("field 'allowed_regions' has more than 100 regions");
    }
    for (const auto& r : *spec.allowed_regions) SCN_RETURN_IF_ERROR(check_text("allowed_regions", r, 1, 100));
  }
  SCN_RETURN_IF_ERROR(check_range("max_replicas", spec.max_replicas, 0, 10000));
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<TenantInfo> {
    if (!tx.exec_params("SELECT 1 FROM tenants WHERE name = $1", spec.name).empty()) {
      return Status::conflict("tenant '" + spec.name + "' already exists");
    }
    std::string regions = spec.allowed_regions ? json_array(*spec.allowed_regions) : std::string();
    pqxx::result row = tx.exec_params(
        "INSERT INTO tenants (name, display_name, allowed_regions, max_replicas) VALUES ($1, $2, "
        "CASE WHEN $3::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END, $4) "
        "RETURNING " + kTenantColumns,
        spec.name, display, nullable(regions), spec.max_replicas);
    TenantInfo t = tenant_of(row[0]);
    AuditEntry e{"tenant.create", "tenant", t.id, t.id, "", {}};
    e.details["name"] = t.name;
    write_audit(tx, actor, e);
    return t;
  });
  return name_taken_as(std::move(r), "tenant '" + spec.name + "'");
}

Result<TenantInfo> find_tenant(db::PgPool& pg, std::string_view id_or_name) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<TenantInfo> {
    std::string sql = "SELECT " + kTenantColumns + " FROM tenants" +
                      (is_uuid(id_or_name) ? " WHERE id = $1::uuid" : " WHERE name = $1");
    pqxx::result r = tx.exec_params(sql, std::string(id_or_name));
    if (r.empty()) return Status::not_found("tenant not found");
    return tenant_of(r[0]);
  }, {db::Isolation::kReadCommitted, true});
}

Result<std::vector<TenantInfo>> list_tenants(db::PgPool& pg) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<TenantInfo>> {
    std::vector<TenantInfo> out;
    for (const auto& row : tx.exec("SELECT " + kTenantColumns + " FROM tenants ORDER BY name")) {
      out.push_back(tenant_of(row));
    }
    return out;
  }, {db::Isolation::kReadCommitted, true});
}

// ---------------------------------------------------------------- centers

Result<CenterInfo> create_center(db::PgPool& pg, const NewCenter& spec, const Actor& actor) {
  SCN_RETURN_IF_ERROR(check_slug("name", spec.name));
  SCN_RETURN_IF_ERROR(check_text("region", spec.region, 1, 100));
  SCN_RETURN_IF_ERROR(check_price("price_gpu_hour", spec.price_gpu_hour, 1e8));
  SCN_RETURN_IF_ERROR(check_price("price_cpu_core_hour", spec.price_cpu_core_hour, 1e6));
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<CenterInfo> {
    if (!tx.exec_params("SELECT 1 FROM centers WHERE name = $1", spec.name).empty()) {
      return Status::conflict("center '" + spec.name + "' already exists");
    }
    pqxx::result row = tx.exec_params(
        "INSERT INTO centers (name, region, price_gpu_hour, price_cpu_core_hour) "
        "VALUES ($1, $2, $3, $4) RETURNING " + kCenterColumns,
        spec.name, spec.region, spec.price_gpu_hour, spec.price_cpu_core_hour);
    CenterInfo c = center_of(row[0]);
    AuditEntry e{"center.create", "center", c.id, "", c.id, {}};
    e.details["name"] = c.name;
    e.details["region"] = c.region;
    write_audit(tx, actor, e);
    return c;
  });
  return name_taken_as(std::move(r), "center '" + spec.name + "'");
}

Result<CenterInfo> find_center(db::PgPool& pg, std::string_view id_or_name) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<CenterInfo> {
    std::string sql = "SELECT " + kCenterColumns + " FROM centers" +
                      (is_uuid(id_or_name) ? " WHERE id = $1::uuid" : " WHERE name = $1");
    pqxx::result r = tx.exec_params(sql, std::string(id_or_name));
    if (r.empty()) return Status::not_found("center not found");
    return center_of(r[0]);
  }, {db::Isolation::kReadCommitted, true});
}

Result<std::vector<CenterInfo>> list_centers(db::PgPool& pg) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<CenterInfo>> {
    std::vector<CenterInfo> out;
    for (const auto& row : tx.exec("SELECT " + kCenterColumns + " FROM centers ORDER BY name")) {
      out.push_back(center_of(row));
    }
    return out;
  }, {db::Isolation::kReadCommitted, true});
}

// ---------------------------------------------------------------- users

Result<UserInfo> create_user(db::PgPool& pg, const NewUser& spec, const Actor& actor,
                             const crypto::KdfParams& kdf) {
  SCN_RETURN_IF_ERROR(check_username("username", spec.username));
  if (spec.password.size() < 8) {
    return Status::invalid_argument("field 'password' must be at least 8 characters");
  }
  if (spec.password.size() > 1024) {
    return Status::invalid_argument("field 'password' must be at most 1024 bytes");
  }
  switch (spec.role) {
    case Role::kAdmin:
      if (!spec.tenant_id.empty() || !spec.center_id.empty()) {
        return Status::invalid_argument("field 'role' admin takes neither tenant_id nor center_id");
      }
      break;
    case Role::kOperator:
      if (spec.center_id.empty()) return Status::invalid_argument("field 'center_id' is required for an operator");
      if (!spec.tenant_id.empty()) return Status::invalid_argument("field 'tenant_id' is only for members");
      break;
    case Role::kMember:
      if (spec.tenant_id.empty()) return Status::invalid_argument("field 'tenant_id' is required for a member");
      if (!spec.center_id.empty()) return Status::invalid_argument("field 'center_id' is only for operators");
      break;
  }
  SCN_ASSIGN_OR_RETURN(std::string hash, crypto::hash_password(spec.password, kdf));
  auto r = pg.with_tx([&](pqxx::work& tx) -> Result<UserInfo> {
    if (!tx.exec_params("SELECT 1 FROM users WHERE lower(username) = lower($1)", spec.username).empty()) {
      return Status::conflict("user '" + spec.username + "' already exists");
    }
    std::string tenant, center;
    if (spec.role == Role::kMember) {
      SCN_ASSIGN_OR_RETURN(tenant, resolve_id(tx, "tenants", "tenant", spec.tenant_id));
    }
    if (spec.role == Role::kOperator) {
      SCN_ASSIGN_OR_RETURN(center, resolve_id(tx, "centers", "center", spec.center_id));
    }
    pqxx::result row = tx.exec_params(
        "INSERT INTO users (username, password_hash, role, tenant_id, center_id) "
        "VALUES ($1, $2, $3, $4::uuid, $5::uuid) RETURNING " + kUserColumns,
        spec.username, hash, std::string(role_name(spec.role)), nullable(tenant), nullable(center));
    UserInfo u = user_of(row[0]);
    AuditEntry e{"user.create", "user", u.id, tenant, center, {}};
    e.details["username"] = u.username;
    e.details["role"] = std::string(role_name(u.role));
    write_audit(tx, actor, e);
    return u;
  });
  return name_taken_as(std::move(r), "user '" + spec.username + "'");
}

Result<UserInfo> find_user(db::PgPool& pg, std::string_view id_or_name) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<UserInfo> {
    std::string sql = "SELECT " + kUserColumns + " FROM users" +
                      (is_uuid(id_or_name) ? " WHERE id = $1::uuid" : " WHERE lower(username) = lower($1)");
    pqxx::result r = tx.exec_params(sql, std::string(id_or_name));
    if (r.empty()) return Status::not_found("user not found");
    return user_of(r[0]);
  }, {db::Isolation::kReadCommitted, true});
}

// ---------------------------------------------------------------- secrets

Result<IssuedSecret> create_api_key(db::PgPool& pg, const NewApiKey& spec, const Actor& actor) {
  SCN_RETURN_IF_ERROR(check_text("name", spec.name, 1, 100));
  if (spec.expires_in_seconds) {
    SCN_RETURN_IF_ERROR(check_range("expires_in_seconds", *spec.expires_in_seconds, 60, 315360000));
  }
  if (!spec.created_by.empty() && !is_uuid(spec.created_by)) {
    return Status::invalid_argument("created_by is not a user id");
  }
  SCN_ASSIGN_OR_RETURN(std::string key, crypto::new_secret("scn-key-"));
  const std::string hash_hex = crypto::to_hex(crypto::sha256(key));
  const std::string prefix = key.substr(0, 12);
  const std::string expires = spec.expires_in_seconds ? std::to_string(*spec.expires_in_seconds) : "";
  return pg.with_tx([&](pqxx::work& tx) -> Result<IssuedSecret> {
    SCN_ASSIGN_OR_RETURN(std::string tenant, resolve_id(tx, "tenants", "tenant", spec.tenant_id));
    pqxx::result row = tx.exec_params(
        "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, created_by, expires_at) "
        "VALUES ($1::uuid, $2, $3, decode($4, 'hex'), $5::uuid, "
        "        now() + make_interval(secs => $6::bigint)) "
        "RETURNING id::text, " + sql_time("created_at") + ", " + sql_time("expires_at"),
        tenant, spec.name, prefix, hash_hex, nullable(spec.created_by), nullable(expires));
    IssuedSecret s;
    s.id = row[0][0].as<std::string>();
    s.name = spec.name;
    s.secret = key;
    s.prefix = prefix;
    s.created_at = row[0][1].as<std::string>();
    s.expires_at = row[0][2].is_null() ? "" : row[0][2].as<std::string>();
    AuditEntry e{"api_key.create", "api_key", s.id, tenant, "", {}};
    e.details["name"] = s.name;
    e.details["prefix"] = s.prefix;
    write_audit(tx, actor, e);
    return s;
  });
}

Result<IssuedSecret> create_join_token(db::PgPool& pg, const NewJoinToken& spec, const Actor& actor) {
  SCN_RETURN_IF_ERROR(check_range("ttl_seconds", spec.ttl_seconds, 60, 2592000));
  if (spec.max_uses) SCN_RETURN_IF_ERROR(check_range("max_uses", *spec.max_uses, 1, 1000000));
  if (!spec.created_by.empty() && !is_uuid(spec.created_by)) {
    return Status::invalid_argument("created_by is not a user id");
  }
  SCN_ASSIGN_OR_RETURN(std::string token, crypto::new_secret("scn-join-"));
  const std::string hash_hex = crypto::to_hex(crypto::sha256(token));
  const std::string prefix = token.substr(0, 12);
  const std::string max_uses = spec.max_uses ? std::to_string(*spec.max_uses) : "";
  return pg.with_tx([&](pqxx::work& tx) -> Result<IssuedSecret> {
    SCN_ASSIGN_OR_RETURN(std::string center, resolve_id(tx, "centers", "center", spec.center_id));
    pqxx::result row = tx.exec_params(
        "INSERT INTO join_tokens (center_id, token_hash, prefix, created_by, expires_at, max_uses) "
        "VALUES ($1::uuid, decode($2, 'hex'), $3, $4::uuid, now() + make_interval(secs => $5::bigint), "
        "        $6::integer) "
        "RETURNING id::text, " + sql_time("created_at") + ", " + sql_time("expires_at"),
        center, hash_hex, prefix, nullable(spec.created_by), spec.ttl_seconds, nullable(max_uses));
    IssuedSecret s;
    s.id = row[0][0].as<std::string>();
    s.secret = token;
    s.prefix = prefix;
    s.created_at = row[0][1].as<std::string>();
    s.expires_at = row[0][2].as<std::string>();
    AuditEntry e{"join_token.create", "join_token", s.id, "", center, {}};
    e.details["prefix"] = s.prefix;
    e.details["ttl_seconds"] = spec.ttl_seconds;
    if (spec.max_uses) e.details["max_uses"] = *spec.max_uses;
    write_audit(tx, actor, e);
    return s;
  });
}

}  // namespace scn::broker
