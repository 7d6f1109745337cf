// Listing and revoking what accounts.h creates: users, API keys, join
// tokens; and reading the audit log. Used by the REST handlers and
// `scn admin`.
//
// Contract:
//  - Ids must be uuids (callers check with is_uuid first; a non-uuid is
//    kNotFound here too, never an SQL error).
//  - revoke_* is scoped: an API key is revoked only when it belongs to
//    `tenant_id` (when not empty), a join token only when it belongs to
//    `center_id`; otherwise kNotFound (a foreign id looks missing). Revoking
//    an already revoked one is OK and changes nothing. A revocation writes
//    one audit row in the same transaction.
//  - Lists are ordered newest first (users: by username) and never contain
//    secrets or their hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/accounts.h"

namespace scn::broker {

struct ApiKeyInfo {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string prefix;
  std::string created_at;
  std::string expires_at;    // "" when never
  std::string revoked_at;    // "" when not revoked
  std::string last_used_at;  // "" when never used
};

struct JoinTokenInfo {
  std::string id;
  std::string center_id;
  std::string prefix;
  std::string created_at;
  std::string expires_at;
  std::string revoked_at;  // "" when not revoked
  std::optional<int> max_uses;
  int uses = 0;
};

struct AuditRow {
  std::int64_t id = 0;
  std::string at;
  std::string actor_kind;
  std::string actor_user_id;
  std::string actor_name;
  std::string tenant_id;
  std::string center_id;
  std::string action;
  std::string target_kind;
  std::string target_id;
  std::string outcome;
  std::string details_json;  // a JSON object
  std::string client_ip;
};

Result<std::vector<UserInfo>> list_users(db::PgPool& pg);

// tenant_id "" lists every tenant's keys.
Result<std::vector<ApiKeyInfo>> list_api_keys(db::PgPool& pg, std::string_view tenant_id);
Status revoke_api_key(db::PgPool& pg, std::string_view key_id, std::string_view tenant_id,
                      const Actor& actor);

Result<std::vector<JoinTokenInfo>> list_join_tokens(db::PgPool& pg, std::string_view center_id);
Status revoke_join_token(db::PgPool& pg, std::string_view token_id, std::string_view center_id,
                         const Actor& actor);

// Filters of list_audit; an empty field does not filter. action matches as a
// prefix ("api_key." lists every api_key action), the others exactly; outcome
// is one of ok|denied|failed (the caller validates it).
struct AuditFilter {
  std::string action_prefix;
  std::string target_kind;
  std::string outcome;
  std::string actor_name;
};

// Newest first; before_id 0 = from the newest; limit 1..1000.
Result<std::vector<AuditRow>> list_audit(db::PgPool& pg, int limit, std::int64_t before_id,
                                         const AuditFilter& filter = {});

}  // namespace scn::broker
