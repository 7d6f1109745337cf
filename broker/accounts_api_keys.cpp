// Join tokens, API keys and the audit log under /api/v1 (accounts_api.h).
#include <boost/json.hpp>

#include "broker/account_checks.h"
#include "broker/accounts_api_util.h"
#include "broker/limits/limits_api.h"
#include "broker/resource_util.h"
#include "common/json.h"

namespace scn::broker::account_api {
namespace {

using common::JsonObject;

// The center of a join-token route, when the caller may manage it.
Result<std::string> managed_center(const ApiCall& call, BrokerContext& ctx) {
  const Principal& p = call.who();
  if (p.role == Role::kMember) return Status::permission_denied("only an admin or the center's operator may do this");
  std::string id(call.param("id"));
  if (!is_uuid(id) || !p.can_manage_center(id)) return Status::not_found("center not found");
  SCN_ASSIGN_OR_RETURN(CenterInfo c, find_center(ctx.pg, id));
  return c.id;
}

Status handle_create_join_token(ApiCall& call, BrokerContext& ctx) {
  SCN_ASSIGN_OR_RETURN(std::string center, managed_center(call, ctx));
  JsonObject body;
  if (!call.request.body.empty()) {
    SCN_ASSIGN_OR_RETURN(body, json_body(call));
  }
  NewJoinToken spec;
  spec.center_id = center;
  SCN_ASSIGN_OR_RETURN(spec.ttl_seconds, common::get_int(body, "ttl_seconds", 3600));
  SCN_ASSIGN_OR_RETURN(auto max_uses, common::get_optional_int(body, "max_uses"));
  if (max_uses) {
    SCN_RETURN_IF_ERROR(check_range("max_uses", *max_uses, 1, 1000000));
    spec.max_uses = static_cast<int>(*max_uses);
  }
  spec.created_by = call.who().user_id;
  SCN_ASSIGN_OR_RETURN(IssuedSecret t, create_join_token(ctx.pg, spec, Actor::of(call.who(), call.client_ip())));
  boost::json::object out;
  out["id"] = t.id;
  out["center_id"] = center;
  out["token"] = t.secret;
  out["prefix"] = t.prefix;
  out["created_at"] = t.created_at;
  out["expires_at"] = t.expires_at;
  if (spec.max_uses) {
    out["max_uses"] = *spec.max_uses;
  } else {
    out["max_uses"] = nullptr;
  }
  call.response.set_header("Cache-Control", "no-store");
  reply_json(call, 201, out);
  return Status::ok();
}

Status handle_list_join_tokens(ApiCall& call, BrokerContext& ctx) {
  SCN_ASSIGN_OR_RETURN(std::string center, managed_center(call, ctx));
  SCN_ASSIGN_OR_RETURN(auto tokens, list_join_tokens(ctx.pg, center));
  boost::json::array items;
  for (const auto& t : tokens) items.emplace_back(join_token_json(t));
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

Status handle_revoke_join_token(ApiCall& call, BrokerContext& ctx) {
  SCN_ASSIGN_OR_RETURN(std::string center, managed_center(call, ctx));
  SCN_RETURN_IF_ERROR(revoke_join_token(ctx.pg, call.param("token_id"), center,
                                        Actor::of(call.who(), call.client_ip())));
  reply_empty(call);
  return Status::ok();
}

// ---------------------------------------------------------------- API keys

Status require_tenant_role(const ApiCall& call) {
  if (call.who().role == Role::kOperator) return Status::permission_denied("operators have no API keys");
  return Status::ok();
}

Status handle_create_api_key(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_tenant_role(call));
  const Principal& p = call.who();
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  NewApiKey spec;
  SCN_ASSIGN_OR_RETURN(spec.name, common::require_string(body, "name"));
  SCN_ASSIGN_OR_RETURN(spec.expires_in_seconds, common::get_optional_int(body, "expires_in_seconds"));
  SCN_ASSIGN_OR_RETURN(auto tenant, optional_uuid_field(body, "tenant_id", "tenant"));
  if (p.is_admin()) {
    if (!tenant) return Status::invalid_argument("field 'tenant_id' is required for an admin");
    spec.tenant_id = *tenant;
  } else {
    if (tenant && *tenant != p.tenant_id) return Status::not_found("field 'tenant_id' names no tenant");
    spec.tenant_id = p.tenant_id;
  }
  spec.created_by = p.user_id;
  // Limits and service scope (broker/limits): checked before the key exists,
  // applied right after; a key they cannot be applied to is revoked again.
  SCN_ASSIGN_OR_RETURN(limits::KeyExtras extras, limits::parse_key_extras(body));
  auto key = create_api_key(ctx.pg, spec, Actor::of(p, call.client_ip()));
  if (!key.is_ok() && key.status().code() == Code::kNotFound) {
    return Status::not_found("field 'tenant_id' names no tenant");
  }
  if (!key.is_ok()) return key.status();
  std::optional<limits::ApiKeyView> view;
  if (!extras.empty()) {
    auto updated = limits::update_api_key(ctx.pg, key->id, spec.tenant_id, extras.limits, extras.services,
                                          !p.is_admin(), Actor::of(p, call.client_ip()));
    if (!updated.is_ok()) {
      (void)revoke_api_key(ctx.pg, key->id, spec.tenant_id, Actor::of(p, call.client_ip()));
      return updated.status();
    }
    view = std::move(updated).value();
  }
  boost::json::object out;
  out["id"] = key->id;
  out["tenant_id"] = spec.tenant_id;
  out["name"] = key->name;
  out["prefix"] = key->prefix;
  out["key"] = key->secret;
  out["created_at"] = key->created_at;
  if (key->expires_at.empty()) {
    out["expires_at"] = nullptr;
  } else {
    out["expires_at"] = key->expires_at;
  }
  if (view) {
    boost::json::object extra = limits::key_json(ctx, *view);
    out["limits"] = extra["limits"];
    out["services"] = extra["services"];
  } else {
    out["limits"] = limits::limits_json({});
    out["services"] = nullptr;
  }
  call.response.set_header("Cache-Control", "no-store");
  reply_json(call, 201, out);
  return Status::ok();
}

Status handle_list_api_keys(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_tenant_role(call));
  const Principal& p = call.who();
  std::string tenant = p.tenant_id;
  if (p.is_admin()) {
    auto filter = call.request.query_param("tenant_id");
    tenant = filter ? std::string(*filter) : "";
    if (filter && !is_uuid(tenant)) return Status::not_found("param 'tenant_id' names no tenant");
  }
  SCN_ASSIGN_OR_RETURN(auto keys, list_api_keys(ctx.pg, tenant));
  // Each key's limits and service scope (broker/limits, issue 5).
  SCN_ASSIGN_OR_RETURN(auto extras, limits::list_key_limits(ctx.pg, tenant));
  boost::json::array items;
  for (const auto& k : keys) {
    boost::json::object item = api_key_json(k);
    auto it = extras.find(k.id);
    limits::set_key_limits_json(item, it != extras.end() ? it->second : limits::ApiKeyView{});
    items.emplace_back(std::move(item));
  }
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

Status handle_revoke_api_key(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_tenant_role(call));
  const Principal& p = call.who();
  SCN_RETURN_IF_ERROR(revoke_api_key(ctx.pg, call.param("id"), p.is_admin() ? "" : p.tenant_id,
                                     Actor::of(p, call.client_ip())));
  reply_empty(call);
  return Status::ok();
}

// ---------------------------------------------------------------- audit

Status handle_audit(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_admin(call));
  SCN_ASSIGN_OR_RETURN(auto limit, query_int(call, "limit"));
  SCN_ASSIGN_OR_RETURN(auto before, query_int(call, "before_id"));
  if (limit) SCN_RETURN_IF_ERROR(check_range("limit", *limit, 1, 1000));
  if (before) SCN_RETURN_IF_ERROR(check_range("before_id", *before, 1, INT64_MAX));
  auto text = [&](std::string_view name) {
    auto v = call.request.query_param(name);
    return v ? std::string(*v) : std::string();
  };
  AuditFilter filter{text("action"), text("target_kind"), text("outcome"), text("actor")};
  if (!filter.outcome.empty() && filter.outcome != "ok" && filter.outcome != "denied" &&
      filter.outcome != "failed")
    return Status::invalid_argument("param 'outcome' must be ok, denied or failed");
  SCN_ASSIGN_OR_RETURN(auto rows, list_audit(ctx.pg, static_cast<int>(limit.value_or(100)),
                                             before.value_or(0), filter));
  boost::json::array items;
  for (const auto& a : rows) items.emplace_back(audit_json(a));
  reply_json(call, 200, list_of(std::move(items)));
  return Status::ok();
}

}  // namespace

void add_credential_routes(ApiRouter& router, BrokerContext& ctx) {
  auto bind = [&ctx](Status (*fn)(ApiCall&, BrokerContext&)) {
    return [fn, &ctx](ApiCall& call) { return fn(call, ctx); };
  };
  constexpr Access kAuth = Access::kAuthenticated;
  router.add("POST", "/api/v1/centers/{id}/join-tokens", kAuth, bind(handle_create_join_token));
  router.add("GET", "/api/v1/centers/{id}/join-tokens", kAuth, bind(handle_list_join_tokens));
  router.add("DELETE", "/api/v1/centers/{id}/join-tokens/{token_id}", kAuth, bind(handle_revoke_join_token));
  router.add("POST", "/api/v1/api-keys", kAuth, bind(handle_create_api_key));
  router.add("GET", "/api/v1/api-keys", kAuth, bind(handle_list_api_keys));
  router.add("DELETE", "/api/v1/api-keys/{id}", kAuth, bind(handle_revoke_api_key));
  router.add("GET", "/api/v1/audit", kAuth, bind(handle_audit));
  limits::add_limit_routes(router, ctx);  // limits of tenants and keys, key scopes
}

}  // namespace scn::broker::account_api
