#include "broker/billing/tenant_scope.h"

#include "broker/resource_util.h"

namespace scn::broker {

Result<std::string> scope_tenant(const ApiCall& call, std::string_view what) {
  const Principal& p = call.who();
  auto asked = call.request.query_param("tenant_id");
  if (p.is_admin()) {
    if (!asked) return std::string();
    if (!is_uuid(*asked)) return Status::not_found("param 'tenant_id': no such tenant");
    return std::string(*asked);
  }
  if (p.role == Role::kMember && !p.tenant_id.empty()) {
    if (asked && *asked != p.tenant_id) {
      return Status::permission_denied("param 'tenant_id': members see their own tenant only");
    }
    return p.tenant_id;
  }
  return Status::permission_denied(std::string(what) + " are for tenants' members and admins");
}

}  // namespace scn::broker
