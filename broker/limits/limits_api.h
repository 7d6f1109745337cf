// /api/v1 endpoints of limits and key scopes (docs/API.md, "Rate limits").
//
// Contract:
//  - GET /api/v1/tenants/{id}/limits: admin, members (and keys) of the
//    tenant (another tenant: 404; operators: 403) -> TenantLimits JSON.
//  - PUT /api/v1/tenants/{id}/limits: admin only (others 403). Fields as
//    parse_limits_patch(tenant_fields): absent unchanged, null unlimited.
//  - GET /api/v1/api-keys/{id}, PATCH /api/v1/api-keys/{id}: admin, members
//    (and keys) of the key's tenant (others 404; operators 403). PATCH body
//    {"limits"?: {...}, "services"?: [names or ids] | null}; a non-admin's
//    key limits must be within the tenant's (422).
//  - parse_key_extras(): the optional "limits" and "services" of POST
//    /api/v1/api-keys, parsed (400/422) before the key is created.
//  - Answers (tenant_limits_json, key_json) carry `monthly_tokens_used`
//    (Redis; null when it cannot be read).
#pragma once

#include <boost/json/object.hpp>

#include "broker/api_router.h"
#include "broker/broker_context.h"
#include "broker/limits/limits_store.h"

namespace scn::broker::limits {

void add_limit_routes(ApiRouter& router, BrokerContext& ctx);

struct KeyExtras {
  LimitsPatch limits;
  ServicesPatch services;
  bool empty() const { return limits.empty() && !services.present; }
};

// Reads "limits" and "services" of a request body (other fields ignored).
Result<KeyExtras> parse_key_extras(const common::JsonObject& body);

boost::json::object key_json(BrokerContext& ctx, const ApiKeyView& key);
// Sets "limits" (Limits) and "services" (null | [{"id","name"}]) of `key`
// on `out` (key_json, and each row of GET /api/v1/api-keys).
void set_key_limits_json(boost::json::object& out, const ApiKeyView& key);

}  // namespace scn::broker::limits
