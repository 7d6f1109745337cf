// Who is calling the broker: a person (session cookie) or a program (API key).
//
// Contract:
//  - A Principal is produced only by authentication (auth.h for sessions,
//    api_key_auth.h for keys); handlers never build one from request data.
//  - Authorization questions are answered here, in one place:
//      admin            - everything;
//      operator         - their center (center_id) and its nodes and tokens;
//      member / API key - their tenant (tenant_id): services, keys, usage.
//    A foreign resource is reported as kNotFound by callers (never 403), so
//    ids of other tenants cannot be probed.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::broker {

enum class Role { kAdmin, kOperator, kMember };
std::string_view role_name(Role role);  // "admin", "operator", "member"
Result<Role> parse_role(std::string_view text);

struct Principal {
  enum class Kind { kUser, kApiKey };
  Kind kind = Kind::kUser;
  Role role = Role::kMember;  // an API key acts as a member of its tenant
  std::string user_id;        // kUser
  std::string username;       // kUser: the user's name; kApiKey: the key's name
  std::string tenant_id;      // member, API key
  std::string center_id;      // operator
  std::string api_key_id;     // kApiKey
  std::string session_id;     // kUser logged in with a session
  // kUser member whose tenant is suspended (session_auth.cpp): the router
  // refuses its state-changing calls with 403 "tenant_suspended". (API keys
  // of a suspended tenant are refused outright; see api_key_auth.h.)
  bool tenant_suspended = false;

  bool is_admin() const { return role == Role::kAdmin; }
  bool is_operator_of(std::string_view center) const {
    return role == Role::kOperator && !center.empty() && center == center_id;
  }
  bool is_member_of(std::string_view tenant) const {
    return role == Role::kMember && !tenant.empty() && tenant == tenant_id;
  }
  // Admin, or operator of `center`.
  bool can_manage_center(std::string_view center) const { return is_admin() || is_operator_of(center); }
  // Admin, or member of `tenant`.
  bool can_use_tenant(std::string_view tenant) const { return is_admin() || is_member_of(tenant); }
};

// For audit rows: actor_kind ('user', 'api_key', 'system'), user id, name.
struct Actor {
  std::string kind = "system";
  std::string user_id;  // empty when none
  std::string name = "system";
  std::string client_ip;  // empty when none
  static Actor of(const Principal& p, std::string client_ip = {});
};

}  // namespace scn::broker
