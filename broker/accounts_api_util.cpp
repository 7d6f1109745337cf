#include "broker/accounts_api_util.h"

#include <charconv>

#include "broker/resource_util.h"
#include "common/json.h"

namespace scn::broker::account_api {
namespace {

boost::json::value or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return boost::json::value(s);
}

}  // namespace

boost::json::object tenant_json(const TenantInfo& t) {
  boost::json::object o;
  o["id"] = t.id;
  o["name"] = t.name;
  o["display_name"] = t.display_name;
  o["status"] = t.status;
  if (t.allowed_regions) {
    boost::json::array regions;
    for (const auto& r : *t.allowed_regions) regions.emplace_back(r);
    o["allowed_regions"] = std::move(regions);
  } else {
    o["allowed_regions"] = nullptr;
  }
  o["max_replicas"] = t.max_replicas;
  o["created_at"] = t.created_at;
  return o;
}

boost::json::object center_json(const CenterInfo& c) {
  boost::json::object o;
  o["id"] = c.id;
  o["name"] = c.name;
  o["region"] = c.region;
  o["price_gpu_hour"] = c.price_gpu_hour;
  o["price_cpu_core_hour"] = c.price_cpu_core_hour;
  o["currency"] = c.currency;
  o["status"] = c.status;
  o["created_at"] = c.created_at;
  return o;
}

boost::json::object user_json(const UserInfo& u) {
  boost::json::object o;
  o["id"] = u.id;
  o["username"] = u.username;
  o["role"] = std::string(role_name(u.role));
  o["tenant_id"] = or_null(u.tenant_id);
  o["center_id"] = or_null(u.center_id);
  o["display_name"] = or_null(u.display_name);
  o["disabled"] = u.disabled;
  o["created_at"] = u.created_at;
  return o;
}

boost::json::object api_key_json(const ApiKeyInfo& k) {
  boost::json::object o;
  o["id"] = k.id;
  o["tenant_id"] = k.tenant_id;
  o["name"] = k.name;
  o["prefix"] = k.prefix;
  o["created_at"] = k.created_at;
  o["expires_at"] = or_null(k.expires_at);
  o["revoked_at"] = or_null(k.revoked_at);
  o["last_used_at"] = or_null(k.last_used_at);
  return o;
}

boost::json::object join_token_json(const JoinTokenInfo& t) {
  boost::json::object o;
  o["id"] = t.id;
  o["center_id"] = t.center_id;
  o["prefix"] = t.prefix;
  o["created_at"] = t.created_at;
  o["expires_at"] = t.expires_at;
  o["revoked_at"] = or_null(t.revoked_at);
  if (t.max_uses) {
    o["max_uses"] = *t.max_uses;
  } else {
    o["max_uses"] = nullptr;
  }
  o["uses"] = t.uses;
  return o;
}

boost::json::object audit_json(const AuditRow& a) {
  boost::json::object o;
  o["id"] = a.id;
  o["at"] = a.at;
  o["actor_kind"] = a.actor_kind;
  o["actor_user_id"] = or_null(a.actor_user_id);
  o["actor_name"] = a.actor_name;
  o["tenant_id"] = or_null(a.tenant_id);
  o["center_id"] = or_null(a.center_id);
  o["action"] = a.action;
  o["target_kind"] = or_null(a.target_kind);
  o["target_id"] = or_null(a.target_id);
  o["outcome"] = a.outcome;
  auto details = common::parse_json(a.details_json);
  if (details.is_ok()) {
    o["details"] = std::move(details).value();
  } else {
    o["details"] = boost::json::object();
  }
  o["client_ip"] = or_null(a.client_ip);
  return o;
}

boost::json::object list_of(boost::json::array items) {
  boost::json::object o;
  o["data"] = std::move(items);
  return o;
}

Result<std::optional<std::int64_t>> query_int(const ApiCall& call, std::string_view name) {
  auto raw = call.request.query_param(name);
  if (!raw) return std::optional<std::int64_t>();
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (raw->empty() || ec != std::errc() || end != raw->data() + raw->size()) {
    return Status::invalid_argument("param '" + std::string(name) + "' must be an integer");
  }
  return std::optional<std::int64_t>(v);
}

Result<std::optional<std::string>> optional_uuid_field(const common::JsonObject& body, std::string_view name,
                                                       std::string_view what) {
  SCN_ASSIGN_OR_RETURN(auto value, common::get_optional_string(body, name));
  if (value && !is_uuid(*value)) {
    return Status::not_found("field '" + std::string(name) + "' names no " + std::string(what));
  }
  return value;
}

Status require_admin(const ApiCall& call) {
  if (call.who().is_admin()) return Status::ok();
  return Status::permission_denied("only an admin may do this");
}

}  // namespace scn::broker::account_api
