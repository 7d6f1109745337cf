#include "broker/principal.h"

namespace scn::broker {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kOperator: return "operator";
    case Role::kMember: return "member";
  }
  return "member";
}

Result<Role> parse_role(std::string_view text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "operator") return Role::kOperator;
  if (text == "member") return Role::kMember;
  return Status::invalid_argument("role must be one of admin, operator, member (got '" +
                                  std::string(text.substr(0, 40)) + "')");
}

Actor Actor::of(const Principal& p, std::string client_ip) {
  Actor actor;
  if (p.kind == Principal::Kind::kApiKey) {
    actor.kind = "api_key";
    actor.name = p.username.empty() ? "api-key:" + p.api_key_id : "api-key:" + p.username;
  } else {
    actor.kind = "user";
    actor.user_id = p.user_id;
    actor.name = p.username.empty() ? p.user_id : p.username;
  }
  if (actor.name.empty()) actor.name = actor.kind;
  actor.client_ip = std::move(client_ip);
  return actor;
}

}  // namespace scn::broker
