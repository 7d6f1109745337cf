// Changing accounts after they exist (issue 6, the console's admin pages):
// editing and deleting users, passwords, tenant memberships and tenant
// settings. Used by users_api.cpp; accounts.h creates and finds them.
//
// Contract:
//  - A member belongs to at most one tenant (users.tenant_id); that is the
//    membership. A member without a tenant (removed from it) cannot sign in
//    (session_auth.cpp) until an admin adds them to a tenant again.
//  - Every change validates its input (kInvalidArgument naming the field, a
//    well-formed value out of range kUnprocessable), writes the row(s) and
//    one audit_log row (actor `actor`) in ONE transaction; a change that
//    changes nothing writes no audit row.
//  - Unknown or malformed ids: kNotFound ("user not found", "tenant not
//    found", "price not found"). Conflicts with the state: kConflict - an
//    admin cannot disable, demote or delete themselves, the last active
//    admin cannot be disabled, demoted or deleted, only members belong to
//    tenants, a member of another tenant must be removed from it first.
//  - Passwords: 8..1024 bytes (else kInvalidArgument), hashed with
//    crypto::hash_password(kdf). set_password (an admin resetting it) revokes
//    every session of the user; change_own_password checks the old one
//    (wrong: kUnprocessable "field 'old_password' is wrong") and revokes the
//    user's other sessions (all but `keep_session_id`).
//  - Thread-safe as PgPool is; no exceptions cross this header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/accounts.h"
#include "common/crypto/crypto.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

// Fields of PATCH /users/{id}; nullopt: unchanged. For the optional ids and
// the display name an empty string means "none" (NULL).
struct UserPatch {
  std::optional<std::string> display_name;  // 1..200 characters, "" clears it
  std::optional<Role> role;
  std::optional<std::string> tenant_id;  // uuid; members only
  std::optional<std::string> center_id;  // uuid; operators only (required)
  std::optional<bool> disabled;
};

// `self_id`: the user id of the caller (the self-protection checks).
Result<UserInfo> update_user(db::PgPool& pg, std::string_view id, const UserPatch& patch,
                             std::string_view self_id, const Actor& actor);
Status delete_user(db::PgPool& pg, std::string_view id, std::string_view self_id, const Actor& actor);

Status set_password(db::PgPool& pg, std::string_view id, std::string_view password, const Actor& actor,
                    const crypto::KdfParams& kdf = {});
// A wrong old_password is kUnprocessable with exactly kWrongOldPassword as
// its message (the caller counts it against the sign-in throttle).
inline constexpr std::string_view kWrongOldPassword = "field 'old_password' is wrong";
Status change_own_password(db::PgPool& pg, std::string_view user_id, std::string_view old_password,
                           std::string_view new_password, std::string_view keep_session_id,
                           const Actor& actor, const crypto::KdfParams& kdf = {});

// The members of a tenant (kNotFound for an unknown tenant), by username.
Result<std::vector<UserInfo>> list_tenant_members(db::PgPool& pg, std::string_view tenant_id);
// Adds the member `user` (id or username) to the tenant. `added` tells
// whether it was a change (false: already a member of it).
Result<UserInfo> add_tenant_member(db::PgPool& pg, std::string_view tenant_id, std::string_view user,
                                   const Actor& actor, bool* added);
// kNotFound when the user is not a member of that tenant.
Status remove_tenant_member(db::PgPool& pg, std::string_view tenant_id, std::string_view user_id,
                            const Actor& actor);

// Fields of PATCH /tenants/{id}; nullopt: unchanged.
struct TenantPatch {
  std::optional<std::string> display_name;  // 1..200 characters
  bool set_allowed_regions = false;         // allowed_regions given (nullopt inside: anywhere)
  std::optional<std::vector<std::string>> allowed_regions;
  std::optional<int> max_replicas;  // 0..10000 (else kUnprocessable)
  std::optional<std::string> status;  // "active" or "suspended" (else kInvalidArgument)
};
// A change of status is audited as "tenant.suspend" / "tenant.reinstate"
// (the other fields as "tenant.update"). Suspending leaves the tenant's
// services and replicas as they are; its API keys stop working within the
// key cache's TTL (1 s) on every broker and its members' changes are
// refused (api_router.cpp); reinstating restores all of it.
Result<TenantInfo> update_tenant(db::PgPool& pg, std::string_view id, const TenantPatch& patch,
                                 const Actor& actor);

}  // namespace scn::broker
