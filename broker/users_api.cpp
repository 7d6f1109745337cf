// The endpoints that change accounts after they exist (docs/API.md, "Tenants
// and users"): PATCH/DELETE /users/{id}, POST /users/{id}/password,
// POST /auth/password, PATCH /tenants/{id}, GET/POST /tenants/{id}/members,
// DELETE /tenants/{id}/members/{user_id}. The work is in user_admin.h.
#include <initializer_list>

#include "broker/account_checks.h"
#include "broker/accounts_api_util.h"
#include "broker/resource_util.h"
#include "broker/session_auth.h"
#include "broker/user_admin.h"
#include "common/json.h"

namespace scn::broker::account_api {
namespace {

using common::JsonObject;

Status only_fields(const JsonObject& body, std::initializer_list<std::string_view> known) {
  for (const auto& kv : body) {
    bool ok = false;
    for (auto k : known) ok = ok || kv.key() == k;
    if (!ok) return Status::invalid_argument("field '" + std::string(kv.key()) + "' is unknown");
  }
  return Status::ok();
}

// A field that is a string or null: nullopt when absent, "" for null.
Result<std::optional<std::string>> string_or_null(const JsonObject& body, std::string_view name) {
  const auto* v = body.if_contains(name);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_null()) return std::optional<std::string>(std::string());
  if (!v->is_string()) return Status::invalid_argument("field '" + std::string(name) + "' must be a string or null");
  return std::optional<std::string>(std::string(v->get_string()));
}

// ---------------------------------------------------------------- users

Status handle_update_user(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  const std::string id(call.param("id"));
  if (!is_uuid(id)) return Status::not_found("user not found");
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_RETURN_IF_ERROR(only_fields(body, {"display_name", "role", "tenant_id", "center_id", "disabled"}));
  UserPatch patch;
  SCN_ASSIGN_OR_RETURN(patch.display_name, string_or_null(body, "display_name"));
  SCN_ASSIGN_OR_RETURN(auto role, common::get_optional_string(body, "role"));
  if (role) {
    auto parsed = parse_role(*role);
    if (!parsed.is_ok()) return Status::invalid_argument("field 'role' must be admin, operator or member");
    patch.role = *parsed;
  }
  SCN_ASSIGN_OR_RETURN(patch.tenant_id, string_or_null(body, "tenant_id"));
  SCN_ASSIGN_OR_RETURN(patch.center_id, string_or_null(body, "center_id"));
  SCN_ASSIGN_OR_RETURN(patch.disabled, common::get_optional_bool(body, "disabled"));
  SCN_ASSIGN_OR_RETURN(UserInfo u, update_user(ctx.pg, id, patch, call.who().user_id,
                                               Actor::of(call.who(), call.client_ip())));
  reply_json(call, 200, user_json(u));
  return Status::ok();
}

Status handle_delete_user(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_RETURN_IF_ERROR(delete_user(ctx.pg, call.param("id"), call.who().user_id,
                                  Actor::of(call.who(), call.client_ip())));
  reply_empty(call);
  return Status::ok();
}

Status handle_set_password(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  const std::string id(call.param("id"));
  if (!is_uuid(id)) return Status::not_found("user not found");
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_RETURN_IF_ERROR(only_fields(body, {"password"}));
  SCN_ASSIGN_OR_RETURN(std::string password, common::require_string(body, "password"));
  SCN_RETURN_IF_ERROR(set_password(ctx.pg, id, password, Actor::of(call.who(), call.client_ip()), ctx.kdf));
  reply_empty(call);
  return Status::ok();
}

Status handle_change_own_password(ApiCall& call, BrokerContext& ctx) {
  const Principal& p = call.who();
  if (p.kind != Principal::Kind::kUser) return Status::permission_denied("API keys have no password");
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_RETURN_IF_ERROR(only_fields(body, {"old_password", "new_password"}));
  SCN_ASSIGN_OR_RETURN(std::string old_password, common::require_string(body, "old_password"));
  SCN_ASSIGN_OR_RETURN(std::string new_password, common::require_string(body, "new_password"));
  // Guessing the old password is throttled like signing in (the same count).
  if (int retry = password_retry_after_s(ctx, p.username); retry > 0) {
    call.response.set_header("Retry-After", std::to_string(retry));
    return Status::exhausted("too many wrong passwords for this user; try again in " + std::to_string(retry) + " s");
  }
  Status changed = change_own_password(ctx.pg, p.user_id, old_password, new_password, p.session_id,
                                       Actor::of(p, call.client_ip()), ctx.kdf);
  if (changed.code() == Code::kUnprocessable && changed.message() == kWrongOldPassword) {
    count_password_failure(ctx, p.username);
  }
  SCN_RETURN_IF_ERROR(changed);
  clear_password_failures(ctx, p.username);
  reply_empty(call);
  return Status::ok();
}

// ---------------------------------------------------------------- tenants

Status handle_update_tenant(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  const std::string id(call.param("id"));
  if (!is_uuid(id)) return Status::not_found("tenant not found");
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_RETURN_IF_ERROR(only_fields(body, {"display_name", "allowed_regions", "max_replicas", "status"}));
  TenantPatch patch;
  SCN_ASSIGN_OR_RETURN(patch.display_name, common::get_optional_string(body, "display_name"));
  SCN_ASSIGN_OR_RETURN(patch.status, common::get_optional_string(body, "status"));
  if (const auto* v = body.if_contains("allowed_regions"); v != nullptr) {
    patch.set_allowed_regions = true;
    if (!v->is_null()) {
      if (!v->is_array()) return Status::invalid_argument("field 'allowed_regions' must be an array of strings or null");
      patch.allowed_regions.emplace();
      for (const auto& r : v->get_array()) {
        if (!r.is_string()) return Status::invalid_argument("field 'allowed_regions' must be an array of strings or null");
        patch.allowed_regions->emplace_back(r.get_string());
      }
    }
  }
  SCN_ASSIGN_OR_RETURN(auto max_replicas, common::get_optional_int(body, "max_replicas"));
  if (max_replicas) {
    SCN_RETURN_IF_ERROR(check_range("max_replicas", *max_replicas, 0, 10000));
    patch.max_replicas = static_cast<int>(*max_replicas);
  }
  SCN_ASSIGN_OR_RETURN(TenantInfo t, update_tenant(ctx.pg, id, patch, Actor::of(call.who(), call.client_ip())));
  reply_json(call, 200, tenant_json(t));
  return Status::ok();
}

// Members of a tenant read its member list; API keys and operators do not.
Status handle_list_members(ApiCall& call, BrokerContext& ctx) {
  const Principal& p = call.who();
  if (p.role == Role::kOperator) return Status::permission_denied("operators do not see tenants");
  if (p.kind == Principal::Kind::kApiKey) return Status::permission_denied("API keys do not list people");
  const std::string id(call.param("id"));
  if (!is_uuid(id) || !p.can_use_tenant(id)) return Status::not_found("tenant not found");
  SCN_ASSIGN_OR_RETURN(auto members, list_tenant_members(ctx.pg, id));
  boost::json::array items;
  for (const auto& u : members) items.emplace_back(user_json(u));
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

Status handle_add_member(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  const std::string id(call.param("id"));
  if (!is_uuid(id)) return Status::not_found("tenant not found");
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_RETURN_IF_ERROR(only_fields(body, {"user_id", "username"}));
  SCN_ASSIGN_OR_RETURN(auto user_id, common::get_optional_string(body, "user_id"));
  SCN_ASSIGN_OR_RETURN(auto username, common::get_optional_string(body, "username"));
  if (user_id.has_value() == username.has_value()) {
    return Status::invalid_argument("field 'user_id': give either user_id or username");
  }
  if (user_id && !is_uuid(*user_id)) return Status::not_found("user not found");
  bool added = false;
  SCN_ASSIGN_OR_RETURN(UserInfo u, add_tenant_member(ctx.pg, id, user_id ? *user_id : *username,
                                                     Actor::of(call.who(), call.client_ip()), &added));
  reply_json(call, added ? 201 : 200, user_json(u));
  return Status::ok();
}

Status handle_remove_member(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_RETURN_IF_ERROR(remove_tenant_member(ctx.pg, call.param("id"), call.param("user_id"),
                                           Actor::of(call.who(), call.client_ip())));
  reply_empty(call);
  return Status::ok();
}

}  // namespace

void add_user_admin_routes(ApiRouter& router, BrokerContext& ctx) {
  auto bind = [&ctx](Status (*fn)(ApiCall&, BrokerContext&)) {
    return [fn, &ctx](ApiCall& call) { return fn(call, ctx); };
  };
  constexpr Access kAuth = Access::kAuthenticated;
  router.add("POST", "/api/v1/auth/password", kAuth, bind(handle_change_own_password));
  router.add("PATCH", "/api/v1/users/{id}", kAuth, bind(handle_update_user));
  router.add("DELETE", "/api/v1/users/{id}", kAuth, bind(handle_delete_user));
  router.add("POST", "/api/v1/users/{id}/password", kAuth, bind(handle_set_password));
  router.add("PATCH", "/api/v1/tenants/{id}", kAuth, bind(handle_update_tenant));
  router.add("GET", "/api/v1/tenants/{id}/members", kAuth, bind(handle_list_members));
  router.add("POST", "/api/v1/tenants/{id}/members", kAuth, bind(handle_add_member));
  router.add("DELETE", "/api/v1/tenants/{id}/members/{user_id}", kAuth, bind(handle_remove_member));
}

}  // namespace scn::broker::account_api
