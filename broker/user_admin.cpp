#include "broker/user_admin.h"

#include <boost/json.hpp>

#include "broker/account_checks.h"
#include "broker/resource_util.h"
#include "common/db/pg.h"
#include "common/json.h"

namespace scn::broker {
namespace {

const char* nullable(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

Status check_password(std::string_view field, std::string_view password) {
  if (password.size() < 8) return Status::invalid_argument("field '" + std::string(field) + "' must be at least 8 characters");
  if (password.size() > 1024) return Status::invalid_argument("field '" + std::string(field) + "' must be at most 1024 bytes");
  return Status::ok();
}

struct UserRow {
  std::string username;
  Role role = Role::kMember;
  std::string tenant_id, center_id, display_name;
  bool disabled = false;
};

// The user `id` locked for update; kNotFound when there is none.
Result<UserRow> lock_user(pqxx::work& tx, std::string_view id) {
  if (!is_uuid(id)) return Status::not_found("user not found");
  pqxx::result r = tx.exec_params(
      "SELECT username, role, coalesce(tenant_id::text, ''), coalesce(center_id::text, ''), "
      "coalesce(display_name, ''), disabled_at IS NOT NULL FROM users WHERE id = $1::uuid FOR UPDATE",
      std::string(id));
  if (r.empty()) return Status::not_found("user not found");
  UserRow u;
  u.username = r[0][0].as<std::string>();
  auto role = parse_role(r[0][1].as<std::string>());
  u.role = role.is_ok() ? *role : Role::kMember;
  u.tenant_id = r[0][2].as<std::string>();
  u.center_id = r[0][3].as<std::string>();
  u.display_name = r[0][4].as<std::string>();
  u.disabled = r[0][5].as<bool>();
  return u;
}

// Other active admins than `id` (under a lock on the admin rows, so two
// admins demoting each other at once cannot both succeed).
bool another_active_admin(pqxx::work& tx, std::string_view id) {
  pqxx::result r = tx.exec_params(
      "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1::uuid FOR UPDATE",
      std::string(id));
  return !r.empty();
}

bool exists(pqxx::work& tx, const char* table, const std::string& id) {
  return !tx.exec_params(std::string("SELECT 1 FROM ") + table + " WHERE id = $1::uuid", id).empty();
}

std::string json_array(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return common::to_json(a);
}

}  // namespace

// ---------------------------------------------------------------- users

Result<UserInfo> update_user(db::PgPool& pg, std::string_view id, const UserPatch& patch,
                             std::string_view self_id, const Actor& actor) {
  if (patch.display_name && !patch.display_name->empty()) {
    SCN_RETURN_IF_ERROR(check_text("display_name", *patch.display_name, 1, 200));
  }
  if (patch.tenant_id && !patch.tenant_id->empty() && !is_uuid(*patch.tenant_id)) {
    return Status::not_found("field 'tenant_id' names no tenant");
  }
  if (patch.center_id && !patch.center_id->empty() && !is_uuid(*patch.center_id)) {
    return Status::not_found("field 'center_id' names no center");
  }
  const bool self = id == self_id;
  auto done = pg.with_tx([&](pqxx::work& tx) -> Result<bool> {
    SCN_ASSIGN_OR_RETURN(UserRow before, lock_user(tx, id));
    UserRow after = before;
    if (patch.display_name) after.display_name = *patch.display_name;
    if (patch.disabled) after.disabled = *patch.disabled;
    if (patch.role) after.role = *patch.role;
    // Ids follow the role: what the new role cannot have is dropped, what
    // it needs comes from the patch or the old row.
    if (patch.tenant_id) {
      if (after.role != Role::kMember && !patch.tenant_id->empty()) {
        return Status::invalid_argument("field 'tenant_id' is only for members");
      }
      after.tenant_id = *patch.tenant_id;
    }
    if (patch.center_id) {
      if (after.role != Role::kOperator && !patch.center_id->empty()) {
        return Status::invalid_argument("field 'center_id' is only for operators");
      }
      after.center_id = *patch.center_id;
    }
    if (after.role != Role::kMember) after.tenant_id.clear();
    if (after.role != Role::kOperator) after.center_id.clear();
    if (after.role == Role::kOperator && after.center_id.empty()) {
      return Status::invalid_argument("field 'center_id' is required for an operator");
    }
    if (!after.tenant_id.empty() && after.tenant_id != before.tenant_id && !exists(tx, "tenants", after.tenant_id)) {
      return Status::not_found("field 'tenant_id' names no tenant");
    }
    if (!after.center_id.empty() && after.center_id != before.center_id && !exists(tx, "centers", after.center_id)) {
      return Status::not_found("field 'center_id' names no center");
    }
    const bool loses_admin = before.role == Role::kAdmin && !before.disabled &&
                             (after.role != Role::kAdmin || after.disabled);
    if (loses_admin && self) return Status::conflict("an admin cannot disable or demote themselves");
    if (loses_admin && !another_active_admin(tx, id)) {
      return Status::conflict("the last active admin cannot be disabled or demoted");
    }
    boost::json::object changes;
    if (after.display_name != before.display_name) changes["display_name"] = after.display_name;
    if (after.role != before.role) changes["role"] = std::string(role_name(after.role));
    if (after.tenant_id != before.tenant_id) changes["tenant_id"] = after.tenant_id;
    if (after.center_id != before.center_id) changes["center_id"] = after.center_id;
    if (after.disabled != before.disabled) changes["disabled"] = after.disabled;
    if (changes.empty()) return false;
    tx.exec_params(
        "UPDATE users SET display_name = $2, role = $3, tenant_id = $4::uuid, center_id = $5::uuid, "
        "disabled_at = CASE WHEN $6 THEN coalesce(disabled_at, now()) ELSE NULL END WHERE id = $1::uuid",
        std::string(id), nullable(after.display_name), std::string(role_name(after.role)),
        nullable(after.tenant_id), nullable(after.center_id), after.disabled);
    if (after.disabled || after.role != before.role) {
      // A disabled user's or a changed role's sessions end now.
      tx.exec_params("UPDATE sessions SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL",
                     std::string(id));
    }
    AuditEntry e{"user.update", "user", std::string(id),
                 after.tenant_id.empty() ? before.tenant_id : after.tenant_id,
                 after.center_id.empty() ? before.center_id : after.center_id, {}};
    e.details["username"] = before.username;
    e.details["changes"] = std::move(changes);
    write_audit(tx, actor, e);
    return true;
  });
  if (!done.is_ok()) return done.status();
  return find_user(pg, id);
}

Status delete_user(db::PgPool& pg, std::string_view id, std::string_view self_id, const Actor& actor) {
  return pg.with_tx([&](pqxx::work& tx) -> Status {
    SCN_ASSIGN_OR_RETURN(UserRow before, lock_user(tx, id));
    if (id == self_id) return Status::conflict("an admin cannot delete themselves");
    if (before.role == Role::kAdmin && !before.disabled && !another_active_admin(tx, id)) {
      return Status::conflict("the last active admin cannot be deleted");
    }
    // Sessions go with the user (ON DELETE CASCADE); audit rows, API keys,
    // join tokens and services keep a NULL creator.
    tx.exec_params("DELETE FROM users WHERE id = $1::uuid", std::string(id));
    AuditEntry e{"user.delete", "user", std::string(id), before.tenant_id, before.center_id, {}};
    e.details["username"] = before.username;
    e.details["role"] = std::string(role_name(before.role));
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

Status set_password(db::PgPool& pg, std::string_view id, std::string_view password, const Actor& actor,
                    const crypto::KdfParams& kdf) {
  SCN_RETURN_IF_ERROR(check_password("password", password));
  if (!is_uuid(id)) return Status::not_found("user not found");
  SCN_ASSIGN_OR_RETURN(std::string hash, crypto::hash_password(password, kdf));
  return pg.with_tx([&](pqxx::work& tx) -> Status {
    SCN_ASSIGN_OR_RETURN(UserRow before, lock_user(tx, id));
    tx.exec_params("UPDATE users SET password_hash = $2 WHERE id = $1::uuid", std::string(id), hash);
    tx.exec_params("UPDATE sessions SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL",
                   std::string(id));
    AuditEntry e{"user.password_reset", "user", std::string(id), before.tenant_id, before.center_id, {}};
    e.details["username"] = before.username;
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

Status change_own_password(db::PgPool& pg, std::string_view user_id, std::string_view old_password,
                           std::string_view new_password, std::string_view keep_session_id,
                           const Actor& actor, const crypto::KdfParams& kdf) {
  SCN_RETURN_IF_ERROR(check_password("new_password", new_password));
  if (old_password.size() > 1024) return Status::unprocessable(std::string(kWrongOldPassword));
  if (!is_uuid(user_id)) return Status::not_found("user not found");
  auto stored = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    pqxx::result r = tx.exec_params("SELECT password_hash FROM users WHERE id = $1::uuid", std::string(user_id));
    if (r.empty()) return Status::not_found("user not found");
    return r[0][0].as<std::string>();
  }, {db::Isolation::kReadCommitted, true});
  if (!stored.is_ok()) return stored.status();
  if (!crypto::verify_password(old_password, *stored)) {
    return Status::unprocessable(std::string(kWrongOldPassword));
  }
  SCN_ASSIGN_OR_RETURN(std::string hash, crypto::hash_password(new_password, kdf));
  return pg.with_tx([&](pqxx::work& tx) -> Status {
    SCN_ASSIGN_OR_RETURN(UserRow before, lock_user(tx, user_id));
    // Changed since it was checked: refuse rather than overwrite.
    pqxx::result r = tx.exec_params("UPDATE users SET password_hash = $2 WHERE id = $1::uuid AND password_hash = $3",
                                    std::string(user_id), hash, *stored);
    if (r.affected_rows() == 0) return Status::conflict("the password changed meanwhile; try again");
    tx.exec_params(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL "
        "AND ($2::uuid IS NULL OR id <> $2::uuid)",
        std::string(user_id), keep_session_id.empty() ? nullptr : std::string(keep_session_id).c_str());
    AuditEntry e{"user.password_change", "user", std::string(user_id), before.tenant_id, before.center_id, {}};
    e.details["username"] = before.username;
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

// ---------------------------------------------------------------- memberships

Result<std::vector<UserInfo>> list_tenant_members(db::PgPool& pg, std::string_view tenant_id) {
  if (!is_uuid(tenant_id)) return Status::not_found("tenant not found");
  auto ids = pg.with_tx([&](pqxx::work& tx) -> Result<std::vector<std::string>> {
    if (!exists(tx, "tenants", std::string(tenant_id))) return Status::not_found("tenant not found");
    std::vector<std::string> out;
    for (const auto& row : tx.exec_params("SELECT id::text FROM users WHERE tenant_id = $1::uuid ORDER BY lower(username)",
                                          std::string(tenant_id))) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  }, {db::Isolation::kReadCommitted, true});
  if (!ids.is_ok()) return ids.status();
  std::vector<UserInfo> out;
  for (const auto& id : *ids) {
    auto u = find_user(pg, id);
    if (u.is_ok()) out.push_back(std::move(*u));  // deleted meanwhile: left out
  }
  return out;
}

Result<UserInfo> add_tenant_member(db::PgPool& pg, std::string_view tenant_id, std::string_view user,
                                   const Actor& actor, bool* added) {
  if (!is_uuid(tenant_id)) return Status::not_found("tenant not found");
  if (user.empty() || user.size() > 100) return Status::not_found("user not found");
  *added = false;
  auto id = pg.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    if (!exists(tx, "tenants", std::string(tenant_id))) return Status::not_found("tenant not found");
    pqxx::result r = tx.exec_params(
        std::string("SELECT id::text FROM users WHERE ") +
            (is_uuid(user) ? "id = $1::uuid" : "lower(username) = lower($1)"),
        std::string(user));
    if (r.empty()) return Status::not_found("user not found");
    const std::string uid = r[0][0].as<std::string>();
    SCN_ASSIGN_OR_RETURN(UserRow before, lock_user(tx, uid));
    if (before.role != Role::kMember) {
      return Status::conflict("user '" + before.username + "' is " + (before.role == Role::kAdmin ? "an admin" : "an operator") +
                              "; only members belong to tenants");
    }
    if (before.tenant_id == tenant_id) return uid;
    if (!before.tenant_id.empty()) {
      return Status::conflict("user '" + before.username + "' belongs to another tenant; remove them from it first");
    }
    tx.exec_params("UPDATE users SET tenant_id = $2::uuid WHERE id = $1::uuid", uid, std::string(tenant_id));
    AuditEntry e{"tenant.member_add", "user", uid, std::string(tenant_id), "", {}};
    e.details["username"] = before.username;
    write_audit(tx, actor, e);
    *added = true;
    return uid;
  });
  if (!id.is_ok()) return id.status();
  return find_user(pg, *id);
}

Status remove_tenant_member(db::PgPool& pg, std::string_view tenant_id, std::string_view user_id,
                            const Actor& actor) {
  if (!is_uuid(tenant_id) || !is_uuid(user_id)) return Status::not_found("member not found");
  return pg.with_tx([&](pqxx::work& tx) -> Status {
    pqxx::result r = tx.exec_params(
        "UPDATE users SET tenant_id = NULL WHERE id = $1::uuid AND tenant_id = $2::uuid RETURNING username",
        std::string(user_id), std::string(tenant_id));
    if (r.empty()) return Status::not_found("member not found");
    // Their sessions end now (a member without a tenant cannot sign in).
    tx.exec_params("UPDATE sessions SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL",
                   std::string(user_id));
    AuditEntry e{"tenant.member_remove", "user", std::string(user_id), std::string(tenant_id), "", {}};
    e.details["username"] = r[0][0].as<std::string>();
    write_audit(tx, actor, e);
    return Status::ok();
  });
}

// ---------------------------------------------------------------- tenants

Result<TenantInfo> update_tenant(db::PgPool& pg, std::string_view id, const TenantPatch& patch,
                                 const Actor& actor) {
  if (!is_uuid(id)) return Status::not_found("tenant not found");
  if (patch.display_name) SCN_RETURN_IF_ERROR(check_text("display_name", *patch.display_name, 1, 200));
  if (patch.set_allowed_regions && patch.allowed_regions) {
    if (patch.allowed_regions->size() > 100) {
      return Status::invalid_argument("field 'allowed_regions' has more than 100 regions");
    }
    for (const auto& r : *patch.allowed_regions) SCN_RETURN_IF_ERROR(check_text("allowed_regions", r, 1, 100));
  }
  if (patch.max_replicas) SCN_RETURN_IF_ERROR(check_range("max_replicas", *patch.max_replicas, 0, 10000));
  if (patch.status && *patch.status != "active" && *patch.status != "suspended") {
    return Status::invalid_argument("field 'status' must be \"active\" or \"suspended\"");
  }
  auto done = pg.with_tx([&](pqxx::work& tx) -> Status {
    pqxx::result r = tx.exec_params(
        "SELECT display_name, array_to_json(allowed_regions)::text, max_replicas, status, name FROM tenants "
        "WHERE id = $1::uuid FOR UPDATE",
        std::string(id));
    if (r.empty()) return Status::not_found("tenant not found");
    const std::string regions = patch.allowed_regions ? json_array(*patch.allowed_regions) : std::string();
    const std::string max_replicas = patch.max_replicas ? std::to_string(*patch.max_replicas) : std::string();
    boost::json::object changes;
    if (patch.display_name && *patch.display_name != r[0][0].as<std::string>()) {
      changes["display_name"] = *patch.display_name;
    }
    if (patch.set_allowed_regions) {
      auto old = r[0][1].is_null() ? std::string() : common::to_json(*common::parse_json(r[0][1].as<std::string>()));
      if (old != regions) {
        changes["allowed_regions"] = patch.allowed_regions ? *common::parse_json(regions) : boost::json::value(nullptr);
      }
    }
    if (patch.max_replicas && *patch.max_replicas != r[0][2].as<int>()) changes["max_replicas"] = *patch.max_replicas;
    if (patch.status && *patch.status != r[0][3].as<std::string>()) {
      tx.exec_params("UPDATE tenants SET status = $2 WHERE id = $1::uuid", std::string(id), *patch.status);
      AuditEntry e{*patch.status == "suspended" ? "tenant.suspend" : "tenant.reinstate", "tenant", std::string(id),
                   std::string(id), "", {}};
      e.details["name"] = r[0][4].as<std::string>();
      e.details["status"] = *patch.status;
      write_audit(tx, actor, e);
    }
    if (changes.empty()) return Status::ok();
    tx.exec_params(
        "UPDATE tenants SET display_name = coalesce($2, display_name), "
        "allowed_regions = CASE WHEN NOT $3 THEN allowed_regions WHEN $4::jsonb IS NULL THEN NULL "
        "  ELSE ARRAY(SELECT jsonb_array_elements_text($4::jsonb)) END, "
        "max_replicas = coalesce($5::integer, max_replicas) WHERE id = $1::uuid",
        std::string(id), patch.display_name ? patch.display_name->c_str() : nullptr, patch.set_allowed_regions,
        nullable(regions), nullable(max_replicas));
    AuditEntry e{"tenant.update", "tenant", std::string(id), std::string(id), "", {}};
    e.details["changes"] = std::move(changes);
    write_audit(tx, actor, e);
    return Status::ok();
  });
  if (!done.is_ok()) return done;
  return find_tenant(pg, id);
}

}  // namespace scn::broker
