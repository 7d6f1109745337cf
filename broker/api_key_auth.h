// API-key authentication, shared by the OpenAI gateway and /api/v1.
//
// Contract:
//  - authenticate_api_key(pg, key) looks the key up by its SHA-256 and
//    answers a Principal (Kind::kApiKey, role member, tenant_id, api_key_id,
//    username = the key's name), or kUnauthenticated ("invalid API key",
//    "API key revoked", "API key expired"). A valid key of a suspended
//    tenant is kPermissionDenied (is_tenant_suspended() is true of it):
//    callers answer 403 with the error type kTenantSuspendedType - the
//    OpenAI gateway and /api/v1 alike. It never says which keys exist
//    beyond that.
//  - bearer_token(request) is the token of "Authorization: Bearer <token>",
//    or "" when the header is absent or not a bearer.
//  - ApiKeyCache remembers successful look-ups for `ttl` (default 1 s), so a
//    revoked key - or every key of a tenant just suspended - stops working
//    within that time on every broker (and works again as soon as the
//    tenant is reinstated, as failures are never cached); failures
//    are not cached. While PostgreSQL is unreachable (kUnavailable), a key
//    that was cached keeps working for up to 10 minutes past its expiry
//    (stale-if-error: brokers keep serving through a database restart).
//    Thread-safe. last_used_at is updated at most once a minute per key.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/principal.h"
#include "common/http/server.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

std::string_view bearer_token(const http::Request& request);

// The error type of refusals because the caller's tenant is suspended.
inline constexpr std::string_view kTenantSuspendedType = "tenant_suspended";
// The Status authenticate_api_key() answers for a suspended tenant's key,
// and the test for it.
Status tenant_suspended_status();
bool is_tenant_suspended(const Status& status);

Result<Principal> authenticate_api_key(db::PgPool& pg, std::string_view key);

class ApiKeyCache {
 public:
  explicit ApiKeyCache(db::PgPool& pg, std::chrono::milliseconds ttl = std::chrono::milliseconds(1000));
  ~ApiKeyCache();
  Result<Principal> authenticate(std::string_view key);
  // The key's principal when a fresh look-up is cached (no database call);
  // nullopt otherwise (call authenticate()).
  std::optional<Principal> cached(std::string_view key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker
