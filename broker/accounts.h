// Accounts: tenants, centers, users, API keys and join tokens in PostgreSQL.
// Used by the REST handlers, `scn admin` and `scn up` alike.
//
// Contract:
//  - Every create_* validates its input (kInvalidArgument naming the field;
//    a well-formed number out of range - max_replicas, prices, ttl_seconds,
//    max_uses, expires_in_seconds - is kUnprocessable, 422 in docs/API.md),
//    writes the row and one audit_log row (actor `actor`) in ONE transaction,
//    and maps database failures as PgPool does (a taken name: kConflict
//    "tenant 'x' already exists"; an unknown tenant/center id: kNotFound).
//  - Secrets (API keys, join tokens) are returned once in IssuedSecret and
//    stored only as their SHA-256 (common/crypto). API keys look like
//    "scn-key-<43 chars>", join tokens "scn-join-<43 chars>"; `prefix` is the
//    first 12 characters, kept for display.
//  - Passwords are at least 8 characters and hashed with
//    crypto::hash_password (the KdfParams given, default cost).
//  - find_* accept an id or a name; kNotFound when neither matches.
//  - Thread-safe as PgPool is; no exceptions cross this header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/principal.h"
#include "common/crypto/crypto.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::broker {

struct TenantInfo {
  std::string id;
  std::string name;
  std::string display_name;
  std::string status;
  std::optional<std::vector<std::string>> allowed_regions;  // nullopt: anywhere
  int max_replicas = 16;
  std::string created_at;  // RFC 3339
};

struct NewTenant {
  std::string name;          // ^[a-z0-9][a-z0-9-]{0,62}$
  std::string display_name;  // empty: the name
  std::optional<std::vector<std::string>> allowed_regions;
  int max_replicas = 16;
};

struct CenterInfo {
  std::string id;
  std::string name;
  std::string region;
  double price_gpu_hour = 0;
  double price_cpu_core_hour = 0;
  std::string currency;
  std::string status;
  std::string created_at;
};

struct NewCenter {
  std::string name;  // ^[a-z0-9][a-z0-9-]{0,62}$
  std::string region;
  double price_gpu_hour = 0;
  double price_cpu_core_hour = 0;
};

struct UserInfo {
  std::string id;
  std::string username;
  Role role = Role::kMember;
  std::string tenant_id;  // empty unless member
  std::string center_id;  // empty unless operator
  std::string created_at;
  std::string display_name;  // "" when none (sql/0008)
  bool disabled = false;
};

struct NewUser {
  std::string username;
  std::string password;
  Role role = Role::kMember;
  std::string tenant_id;  // id or name; required for members
  std::string center_id;  // id or name; required for operators
};

struct IssuedSecret {
  std::string id;
  std::string name;    // API keys: the key's name; join tokens: ""
  std::string secret;  // shown once
  std::string prefix;
  std::string created_at;
  std::string expires_at;  // "" when it never expires
};

struct NewApiKey {
  std::string tenant_id;  // id or name
  std::string name;
  std::optional<std::int64_t> expires_in_seconds;  // 60 .. 10 years; nullopt: never
  std::string created_by;  // user id or ""
};

struct NewJoinToken {
  std::string center_id;  // id or name
  std::int64_t ttl_seconds = 3600;  // 60 .. 30 days
  std::optional<int> max_uses;
  std::string created_by;  // user id or ""
};

Result<TenantInfo> create_tenant(db::PgPool& pg, const NewTenant& spec, const Actor& actor);
Result<TenantInfo> find_tenant(db::PgPool& pg, std::string_view id_or_name);
Result<std::vector<TenantInfo>> list_tenants(db::PgPool& pg);

Result<CenterInfo> create_center(db::PgPool& pg, const NewCenter& spec, const Actor& actor);
Result<CenterInfo> find_center(db::PgPool& pg, std::string_view id_or_name);
Result<std::vector<CenterInfo>> list_centers(db::PgPool& pg);

Result<UserInfo> create_user(db::PgPool& pg, const NewUser& spec, const Actor& actor,
                             const crypto::KdfParams& kdf = {});
Result<UserInfo> find_user(db::PgPool& pg, std::string_view id_or_name);

Result<IssuedSecret> create_api_key(db::PgPool& pg, const NewApiKey& spec, const Actor& actor);
Result<IssuedSecret> create_join_token(db::PgPool& pg, const NewJoinToken& spec, const Actor& actor);

}  // namespace scn::broker
