#include "broker/credentials.h"

#include "broker/resource_util.h"
#include "common/db/pg.h"

namespace scn::broker {
namespace {

std::string text_or_empty(const pqxx::field& f) { return f.is_null() ? "" : f.as<std::string>(); }

const db::TxOptions kReadOnly{db::Isolation::kReadCommitted, true};

}  // namespace

Result<std::vector<UserInfo>> list_users(db::PgPool& pg) {
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<UserInfo>> {
    std::vector<UserInfo> out;
    for (const auto& row : tx.exec("SELECT id::text, username, role, tenant_id::text, center_id::text, " +
                                   sql_time("created_at") +
                                   ", coalesce(display_name, ''), disabled_at IS NOT NULL"
                                   " FROM users ORDER BY lower(username)")) {
      UserInfo u;
      u.id = row[0].as<std::string>();
      u.username = row[1].as<std::string>();
      auto role = parse_role(row[2].as<std::string>());
      u.role = role.is_ok() ? *role : Role::kMember;
      u.tenant_id = text_or_empty(row[3]);
      u.center_id = text_or_empty(row[4]);
      u.created_at = row[5].as<std::string>();
      u.display_name = row[6].as<std::string>();
      u.disabled = row[7].as<bool>();
      out.push_back(std::move(u));
    }
    return out;
  }, kReadOnly);
}

Result<std::vector<ApiKeyInfo>> list_api_keys(db::PgPool& pg, std::string_view tenant_id) {
  if (!tenant_id.empty() && !is_uuid(tenant_id)) return std::vector<ApiKeyInfo>{};
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<ApiKeyInfo>> {
    std::vector<ApiKeyInfo> out;
    pqxx::result r = tx.exec_params(
        "SELECT id::text, tenant_id::text, name, prefix, " + sql_time("created_at") + ", " +
            sql_time("expires_at") + ", " + sql_time("revoked_at") + ", " + sql_time("last_used_at") +
            " FROM api_keys WHERE ($1::uuid IS NULL OR tenant_id = $1::uuid) ORDER BY created_at DESC, id",
        tenant_id.empty() ? nullptr : std::string(tenant_id).c_str());
    for (const auto& row : r) {
      out.push_back(ApiKeyInfo{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                               row[3].as<std::string>(), row[4].as<std::string>(), text_or_empty(row[5]),
                               text_or_empty(row[6]), text_or_empty(row[7])});
    }
    return out;
  }, kReadOnly);
}

Status revoke_api_key(db::PgPool& pg, std::string_view key_id, std::string_view tenant_id,
                      const Actor& actor) {
  if (!is_uuid(key_id) || (!tenant_id.empty() && !is_uuid(tenant_id))) {
    return Status::not_found("API key not found");
  }
  const std::string id(key_id), tenant(tenant_id);
  return pg.with_tx([&](pqxx::work& tx) -> Status {
    pqxx::result r = tx.exec_params(
        "SELECT tenant_id::text, revoked_at IS NOT NULL, name FROM api_keys "
        "WHERE id = $1::uuid AND ($2::uuid IS NULL OR tenant_id = $2::uuid) FOR UPDATE",
        id, tenant.empty() ? nullptr : tenant.c_str());
    if (r.empty()) return Status::not_found("API key not found");
    if (r[0][1].as<bool>()) return Status::ok();
    tx.exec_params("UPDATE api_keys SET revoked_at = now() WHERE id = $1::uuid", id);
    AuditEntry e{"api_key.revoke", "api_key", id, r[0][0].as<std::string>(), "", {}};
    e.details["name"] = r[0][2].as<std::string>();
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

Result<std::vector<JoinTokenInfo>> list_join_tokens(db::PgPool& pg, std::string_view center_id) {
  if (!is_uuid(center_id)) return Status::not_found("center not found");
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<JoinTokenInfo>> {
    std::vector<JoinTokenInfo> out;
    pqxx::result r = tx.exec_params(
        "SELECT id::text, center_id::text, prefix, " + sql_time("created_at") + ", " + sql_time("expires_at") +
            ", " + sql_time("revoked_at") + ", max_uses, uses FROM join_tokens WHERE center_id = $1::uuid "
            "ORDER BY created_at DESC, id",
        std::string(center_id));
    for (const auto& row : r) {
      JoinTokenInfo t;
      t.id = row[0].as<std::string>();
      t.center_id = row[1].as<std::string>();
      t.prefix = row[2].as<std::string>();
      t.created_at = row[3].as<std::string>();
      t.expires_at = row[4].as<std::string>();
      t.revoked_at = text_or_empty(row[5]);
      if (!row[6].is_null()) t.max_uses = row[6].as<int>();
      t.uses = row[7].as<int>();
      out.push_back(std::move(t));
    }
    return out;
  }, kReadOnly);
}

Status revoke_join_token(db::PgPool& pg, std::string_view token_id, std::string_view center_id,
                         const Actor& actor) {
  if (!is_uuid(token_id) || !is_uuid(center_id)) return Status::not_found("join token not found");
  const std::string id(token_id), center(center_id);
  return pg.with_tx([&](pqxx::work& tx) -> Status {
    pqxx::result r = tx.exec_params(
        "SELECT revoked_at IS NOT NULL, prefix FROM join_tokens WHERE id = $1::uuid AND center_id = $2::uuid "
        "FOR UPDATE",
        id, center);
    if (r.empty()) return Status::not_found("join token not found");
    if (r[0][0].as<bool>()) return Status::ok();
    tx.exec_params("UPDATE join_tokens SET revoked_at = now() WHERE id = $1::uuid", id);
    AuditEntry e{"join_token.revoke", "join_token", id, "", center, {}};
    e.details["prefix"] = r[0][1].as<std::string>();
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

Result<std::vector<AuditRow>> list_audit(db::PgPool& pg, int limit, std::int64_t before_id,
                                         const AuditFilter& filter) {
  if (limit < 1 || limit > 1000) return Status::unprocessable("field 'limit' must be between 1 and 1000");
  return pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<AuditRow>> {
    std::vector<AuditRow> out;
    pqxx::result r = tx.exec_params(
        "SELECT id, " + sql_time("at") + ", actor_kind, actor_user_id::text, actor_name, tenant_id::text, "
            "center_id::text, action, target_kind, target_id, outcome, details::text, host(client_ip) "
            "FROM audit_log WHERE ($1::bigint = 0 OR id < $1::bigint) "
            "AND ($3::text = '' OR starts_with(action, $3::text)) "
            "AND ($4::text = '' OR target_kind = $4::text) "
            "AND ($5::text = '' OR outcome = $5::text) "
            "AND ($6::text = '' OR actor_name = $6::text) ORDER BY id DESC LIMIT $2",
        before_id, limit, filter.action_prefix, filter.target_kind, filter.outcome,
        filter.actor_name);
    for (const auto& row : r) {
      AuditRow a;
      a.id = row[0].as<std::int64_t>();
      a.at = row[1].as<std::string>();
      a.actor_kind = row[2].as<std::string>();
      a.actor_user_id = text_or_empty(row[3]);
      a.actor_name = row[4].as<std::string>();
      a.tenant_id = text_or_empty(row[5]);
      a.center_id = text_or_empty(row[6]);
      a.action = row[7].as<std::string>();
      a.target_kind = text_or_empty(row[8]);
      a.target_id = text_or_empty(row[9]);
      a.outcome = row[10].as<std::string>();
      a.details_json = row[11].as<std::string>();
      a.client_ip = text_or_empty(row[12]);
      out.push_back(std::move(a));
    }
    return out;
  }, kReadOnly);
}

}  // namespace scn::broker
