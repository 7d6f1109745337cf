// The account endpoints of /api/v1 (docs/API.md, "Authentication",
// "Tenants and users", "Centers and join tokens", "API keys", audit):
//   POST /auth/login, POST /auth/logout, GET /auth/me,
//   POST/GET /tenants, GET /tenants/{id}, POST/GET /users,
//   POST/GET /centers, GET /centers/{id},
//   POST/GET /centers/{id}/join-tokens, DELETE /centers/{id}/join-tokens/{token_id},
//   POST/GET /api-keys, DELETE /api-keys/{id}, GET /audit.
//   Editing accounts (users_api.cpp): POST /auth/password, PATCH/DELETE
//   /users/{id}, POST /users/{id}/password, PATCH /tenants/{id},
//   GET/POST /tenants/{id}/members, DELETE /tenants/{id}/members/{user_id}.
//
// Contract:
//  - Authorization as principal.h says: an endpoint the caller's role may
//    not use at all is 403; a malformed, unknown or foreign id is 404 (so
//    other tenants' and centers' ids cannot be probed).
//  - Bodies: malformed JSON / wrong types 400 with `param`; values out of
//    range 422; names taken 409; bodies over 1 MiB 413.
//  - Every state change writes one audit row in its transaction.
//  - Handlers use ctx (which must outlive the router) and nothing else.
#pragma once

#include "broker/api_router.h"
#include "broker/broker_context.h"

namespace scn::broker {

void add_account_routes(ApiRouter& router, BrokerContext& ctx);

}  // namespace scn::broker
