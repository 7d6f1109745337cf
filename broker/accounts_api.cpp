#include "broker/accounts_api.h"

#include "broker/account_checks.h"
#include "broker/accounts_api_util.h"
#include "broker/resource_util.h"
#include "broker/session_auth.h"
#include "common/db/pg.h"
#include "common/json.h"

namespace scn::broker {
namespace {

using namespace account_api;
using common::JsonObject;

Status handle_login(ApiCall& call, BrokerContext& ctx) {
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_ASSIGN_OR_RETURN(std::string username, common::require_string(body, "username"));
  SCN_ASSIGN_OR_RETURN(std::string password, common::require_string(body, "password"));
  LoginFailure failure;
  auto outcome = login(ctx, username, password, call.client_ip(), &failure);
  if (!outcome.is_ok()) {
    if (failure.retry_after_s > 0) call.response.set_header("Retry-After", std::to_string(failure.retry_after_s));
    return outcome.status();
  }
  call.response.headers().add("Set-Cookie", session_cookie(outcome->token));
  call.response.set_header("Cache-Control", "no-store");
  boost::json::object out;
  out["user"] = user_json(outcome->user);
  // A member of a suspended tenant signs in to read; the console says why
  // its changes are refused.
  bool suspended = false;
  if (outcome->user.role == Role::kMember && !outcome->user.tenant_id.empty()) {
    auto t = find_tenant(ctx.pg, outcome->user.tenant_id);
    suspended = t.is_ok() && t->status != "active";
  }
  out["tenant_suspended"] = suspended;
  reply_json(call, 200, out);
  return Status::ok();
}

Status handle_logout(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(logout(ctx, call.who(), Actor::of(call.who(), call.client_ip())));
  call.response.headers().add("Set-Cookie", cleared_session_cookie());
  reply_empty(call);
  return Status::ok();
}

Status handle_me(ApiCall& call, BrokerContext& ctx) {
  const Principal& p = call.who();
  boost::json::object out;
  if (p.kind == Principal::Kind::kApiKey) {
    boost::json::object key;
    key["id"] = p.api_key_id;
    key["name"] = p.username;
    key["tenant_id"] = p.tenant_id;
    out["api_key"] = std::move(key);
  } else {
    SCN_ASSIGN_OR_RETURN(UserInfo user, find_user(ctx.pg, p.user_id));
    out["user"] = user_json(user);
    out["tenant_suspended"] = p.tenant_suspended;
  }
  reply_json(call, 200, out);
  return Status::ok();
}

// ---------------------------------------------------------------- tenants

Status handle_create_tenant(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  NewTenant spec;
  SCN_ASSIGN_OR_RETURN(spec.name, common::require_string(body, "name"));
  SCN_ASSIGN_OR_RETURN(spec.display_name, common::get_string(body, "display_name", ""));
  SCN_ASSIGN_OR_RETURN(std::int64_t max_replicas, common::get_int(body, "max_replicas", 16));
  SCN_RETURN_IF_ERROR(check_range("max_replicas", max_replicas, 0, 10000));
  spec.max_replicas = static_cast<int>(max_replicas);
  SCN_ASSIGN_OR_RETURN(const boost::json::array* regions, common::get_array(body, "allowed_regions"));
  if (regions != nullptr) {
    spec.allowed_regions.emplace();
    for (const auto& r : *regions) {
      if (!r.is_string()) return Status::invalid_argument("field 'allowed_regions' must be an array of strings");
      spec.allowed_regions->emplace_back(r.as_string());
    }
  }
  SCN_ASSIGN_OR_RETURN(TenantInfo t, create_tenant(ctx.pg, spec, Actor::of(call.who(), call.client_ip())));
  reply_json(call, 201, tenant_json(t));
  return Status::ok();
}

Status handle_list_tenants(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_ASSIGN_OR_RETURN(auto tenants, list_tenants(ctx.pg));
  boost::json::array items;
  for (const auto& t : tenants) items.emplace_back(tenant_json(t));
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

Status handle_get_tenant(ApiCall& call, BrokerContext& ctx) {
  const Principal& p = call.who();
  if (p.role == Role::kOperator) return Status::permission_denied("operators do not see tenants");
  std::string id(call.param("id"));
  if (!is_uuid(id) || !p.can_use_tenant(id)) return Status::not_found("tenant not found");
  SCN_ASSIGN_OR_RETURN(TenantInfo t, find_tenant(ctx.pg, id));
  reply_json(call, 200, tenant_json(t));
  return Status::ok();
}

// ---------------------------------------------------------------- users

Status handle_create_user(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  NewUser spec;
  SCN_ASSIGN_OR_RETURN(spec.username, common::require_string(body, "username"));
  SCN_ASSIGN_OR_RETURN(spec.password, common::require_string(body, "password"));
  SCN_ASSIGN_OR_RETURN(std::string role, common::require_string(body, "role"));
  auto parsed = parse_role(role);
  if (!parsed.is_ok()) return Status::invalid_argument("field 'role' must be admin, operator or member");
  spec.role = *parsed;
  SCN_ASSIGN_OR_RETURN(auto tenant, optional_uuid_field(body, "tenant_id", "tenant"));
  SCN_ASSIGN_OR_RETURN(auto center, optional_uuid_field(body, "center_id", "center"));
  spec.tenant_id = tenant.value_or("");
  spec.center_id = center.value_or("");
  SCN_ASSIGN_OR_RETURN(UserInfo u, create_user(ctx.pg, spec, Actor::of(call.who(), call.client_ip()), ctx.kdf));
  reply_json(call, 201, user_json(u));
  return Status::ok();
}

Status handle_list_users(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_ASSIGN_OR_RETURN(auto users, list_users(ctx.pg));
  boost::json::array items;
  for (const auto& u : users) items.emplace_back(user_json(u));
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

// ---------------------------------------------------------------- centers

Status handle_create_center(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  NewCenter spec;
  SCN_ASSIGN_OR_RETURN(spec.name, common::require_string(body, "name"));
  SCN_ASSIGN_OR_RETURN(spec.region, common::require_string(body, "region"));
  SCN_ASSIGN_OR_RETURN(spec.price_gpu_hour, common::get_number(body, "price_gpu_hour", 0));
  SCN_ASSIGN_OR_RETURN(spec.price_cpu_core_hour, common::get_number(body, "price_cpu_core_hour", 0));
  SCN_ASSIGN_OR_RETURN(CenterInfo c, create_center(ctx.pg, spec, Actor::of(call.who(), call.client_ip())));
  reply_json(call, 201, center_json(c));
  return Status::ok();
}

Status handle_list_centers(ApiCall& call, BrokerContext& ctx) {
  SCN_ASSIGN_OR_RETURN(auto centers, list_centers(ctx.pg));
  const Principal& p = call.who();
  boost::json::array items;
  for (const auto& c : centers) {
    if (p.role == Role::kOperator && !p.is_operator_of(c.id)) continue;
    items.emplace_back(center_json(c));
  }
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

Status handle_get_center(ApiCall& call, BrokerContext& ctx) {
  const Principal& p = call.who();
  std::string id(call.param("id"));
  if (!is_uuid(id) || (p.role == Role::kOperator && !p.is_operator_of(id))) {
    return Status::not_found("center not found");
  }
  SCN_ASSIGN_OR_RETURN(CenterInfo c, find_center(ctx.pg, id));
  reply_json(call, 200, center_json(c));
  return Status::ok();
}

}  // namespace

void add_account_routes(ApiRouter& router, BrokerContext& ctx) {
  auto bind = [&ctx](Status (*fn)(ApiCall&, BrokerContext&)) {
    return [fn, &ctx](ApiCall& call) { return fn(call, ctx); };
  };
  constexpr Access kAuth = Access::kAuthenticated;
  prepare_login(ctx.kdf);
  router.add("POST", "/api/v1/auth/login", Access::kPublic, bind(handle_login));
  router.add("POST", "/api/v1/auth/logout", kAuth, bind(handle_logout));
  router.add("GET", "/api/v1/auth/me", kAuth, bind(handle_me));
  router.add("POST", "/api/v1/tenants", kAuth, bind(handle_create_tenant));
  router.add("GET", "/api/v1/tenants", kAuth, bind(handle_list_tenants));
  router.add("GET", "/api/v1/tenants/{id}", kAuth, bind(handle_get_tenant));
  router.add("POST", "/api/v1/users", kAuth, bind(handle_create_user));
  router.add("GET", "/api/v1/users", kAuth, bind(handle_list_users));
  router.add("POST", "/api/v1/centers", kAuth, bind(handle_create_center));
  router.add("GET", "/api/v1/centers", kAuth, bind(handle_list_centers));
  router.add("GET", "/api/v1/centers/{id}", kAuth, bind(handle_get_center));
  account_api::add_credential_routes(router, ctx);
  account_api::add_user_admin_routes(router, ctx);
}

}  // namespace scn::broker
