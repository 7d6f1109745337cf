// Which tenant a billing query covers (billing_api.h): a member's (or API
// key's) own, an admin's chosen one or all ("").
//
// Contract: scope_tenant(call) reads ?tenant_id=: members asking for
// another tenant get kPermissionDenied, admins naming a malformed id
// kNotFound; operators kPermissionDenied.
#pragma once

#include <string>

#include "broker/api_router.h"
#include "common/status.h"

namespace scn::broker {

Result<std::string> scope_tenant(const ApiCall& call, std::string_view what);

}  // namespace scn::broker
