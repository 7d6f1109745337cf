#include "broker/limits/limits_api.h"

#include <boost/json.hpp>

#include "broker/limits/rate_limiter.h"
#include "broker/resource_util.h"
#include "common/log.h"

namespace scn::broker::limits {
namespace {

using common::JsonObject;

boost::json::value used_json(BrokerContext& ctx, std::string_view kind, const std::string& id) {
  auto used = monthly_tokens_used(ctx.redis, ctx.redis_prefix, kind, id);
  if (!used.is_ok()) {
    common::log_warn("limits: month counter of ", kind, ":", id, ": ", used.status().to_string());
    return nullptr;
  }
  return *used;
}

boost::json::object tenant_limits_json(BrokerContext& ctx, const TenantLimits& t) {
  boost::json::object out = limits_json(t.limits);
  out.emplace("tenant_id", t.tenant_id);
  out["max_replicas"] = t.max_replicas;
  out["max_gpus"] = t.max_gpus ? boost::json::value(*t.max_gpus) : boost::json::value(nullptr);
  out["monthly_tokens_used"] = used_json(ctx, "t", t.tenant_id);
  return out;
}

Status require_not_operator(const ApiCall& call, std::string_view what) {
  if (call.who().role == Role::kOperator) return Status::permission_denied(std::string("operators have no ") + std::string(what));
  return Status::ok();
}

Status handle_get_tenant_limits(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_not_operator(call, "tenants"));
  std::string id(call.param("id"));
  if (!is_uuid(id) || !call.who().can_use_tenant(id)) return Status::not_found("tenant not found");
  SCN_ASSIGN_OR_RETURN(TenantLimits t, get_tenant_limits(ctx.pg, id));
  reply_json(call, 200, tenant_limits_json(ctx, t));
  return Status::ok();
}

Status handle_put_tenant_limits(ApiCall& call, BrokerContext& ctx) {
  if (!call.who().is_admin()) return Status::permission_denied("only an admin may set a tenant's limits");
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  SCN_ASSIGN_OR_RETURN(LimitsPatch patch, parse_limits_patch(body, "", true));
  SCN_ASSIGN_OR_RETURN(TenantLimits t, update_tenant_limits(ctx.pg, call.param("id"), patch,
                                                            Actor::of(call.who(), call.client_ip())));
  reply_json(call, 200, tenant_limits_json(ctx, t));
  return Status::ok();
}

// The tenant whose keys the caller may see ("" = any: admin).
std::string key_scope(const ApiCall& call) { return call.who().is_admin() ? "" : call.who().tenant_id; }

Status handle_get_key(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_not_operator(call, "API keys"));
  SCN_ASSIGN_OR_RETURN(ApiKeyView k, get_api_key(ctx.pg, call.param("id"), key_scope(call)));
  reply_json(call, 200, key_json(ctx, k));
  return Status::ok();
}

Status handle_patch_key(ApiCall& call, BrokerContext& ctx) {
  SCN_RETURN_IF_ERROR(require_not_operator(call, "API keys"));
  SCN_ASSIGN_OR_RETURN(JsonObject body, json_body(call));
  for (const auto& kv : body) {
    if (kv.key() != "limits" && kv.key() != "services") {
      return Status::invalid_argument("field '" + std::string(kv.key()) + "' is not known (limits, services)");
    }
  }
  SCN_ASSIGN_OR_RETURN(KeyExtras extras, parse_key_extras(body));
  SCN_ASSIGN_OR_RETURN(ApiKeyView k, update_api_key(ctx.pg, call.param("id"), key_scope(call), extras.limits,
                                                    extras.services, !call.who().is_admin(),
                                                    Actor::of(call.who(), call.client_ip())));
  reply_json(call, 200, key_json(ctx, k));
  return Status::ok();
}

}  // namespace

Result<KeyExtras> parse_key_extras(const JsonObject& body) {
  KeyExtras out;
  if (auto it = body.find("limits"); it != body.end()) {
    if (!it->value().is_object()) return Status::invalid_argument("field 'limits' must be an object");
    SCN_ASSIGN_OR_RETURN(out.limits, parse_limits_patch(it->value().get_object(), "limits.", false));
  }
  if (auto it = body.find("services"); it != body.end()) {
    out.services.present = true;
    if (!it->value().is_null()) {
      if (!it->value().is_array()) {
        return Status::invalid_argument("field 'services' must be an array of service names or ids, or null");
      }
      std::vector<std::string> names;
      for (const auto& v : it->value().get_array()) {
        if (!v.is_string() || v.get_string().empty()) {
          return Status::invalid_argument("field 'services' must be an array of service names or ids, or null");
        }
        names.emplace_back(v.get_string());
      }
      out.services.names_or_ids = std::move(names);
    }
  }
  return out;
}

boost::json::object key_json(BrokerContext& ctx, const ApiKeyView& k) {
  auto text_or_null = [](const std::string& s) { return s.empty() ? boost::json::value(nullptr) : boost::json::value(s); };
  boost::json::object out{{"id", k.id},
                          {"tenant_id", k.tenant_id},
                          {"name", k.name},
                          {"prefix", k.prefix},
                          {"created_at", k.created_at},
                          {"expires_at", text_or_null(k.expires_at)},
                          {"revoked_at", text_or_null(k.revoked_at)}};
  set_key_limits_json(out, k);
  out["monthly_tokens_used"] = used_json(ctx, "k", k.id);
  return out;
}

void set_key_limits_json(boost::json::object& out, const ApiKeyView& k) {
  out["limits"] = limits_json(k.limits);
  if (k.services) {
    boost::json::array services;
    for (const auto& s : *k.services) services.push_back(boost::json::object{{"id", s.id}, {"name", s.name}});
    out["services"] = std::move(services);
  } else {
    out["services"] = nullptr;
  }
}

void add_limit_routes(ApiRouter& router, BrokerContext& ctx) {
  auto bind = [&ctx](Status (*fn)(ApiCall&, BrokerContext&)) {
    return [fn, &ctx](ApiCall& call) { return fn(call, ctx); };
  };
  constexpr Access kAuth = Access::kAuthenticated;
  router.add("GET", "/api/v1/tenants/{id}/limits", kAuth, bind(handle_get_tenant_limits));
  router.add("PUT", "/api/v1/tenants/{id}/limits", kAuth, bind(handle_put_tenant_limits));
  router.add("GET", "/api/v1/api-keys/{id}", kAuth, bind(handle_get_key));
  router.add("PATCH", "/api/v1/api-keys/{id}", kAuth, bind(handle_patch_key));
}

}  // namespace scn::broker::limits
