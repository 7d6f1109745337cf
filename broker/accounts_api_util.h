// Internal to the account endpoints (accounts_api*.cpp): JSON renderings of
// the account records, request helpers, and the second half of the routes.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/accounts.h"
#include "broker/api_router.h"
#include "broker/broker_context.h"
#include "broker/credentials.h"

namespace scn::broker::account_api {

boost::json::object tenant_json(const TenantInfo& t);
boost::json::object center_json(const CenterInfo& c);
boost::json::object user_json(const UserInfo& u);
boost::json::object api_key_json(const ApiKeyInfo& k);
boost::json::object join_token_json(const JoinTokenInfo& t);
boost::json::object audit_json(const AuditRow& a);
// {"data": [...]}
boost::json::object list_of(boost::json::array items);

// A query parameter as an integer (nullopt when absent; 400 naming it when
// not an integer).
Result<std::optional<std::int64_t>> query_int(const ApiCall& call, std::string_view name);
// An optional string field that must be a uuid when given: 400 when not a
// string, 404 ("field 'tenant_id' names no tenant") when not a uuid.
Result<std::optional<std::string>> optional_uuid_field(const common::JsonObject& body, std::string_view name,
                                                       std::string_view what);

Status require_admin(const ApiCall& call);

// Join tokens, API keys and the audit log (accounts_api_keys.cpp).
void add_credential_routes(ApiRouter& router, BrokerContext& ctx);
// Editing, deleting and re-passwording users, tenant settings and
// memberships (users_api.cpp, user_admin.h).
void add_user_admin_routes(ApiRouter& router, BrokerContext& ctx);

}  // namespace scn::broker::account_api
