// The world of the authorization matrix (authz_matrix_test.cpp): a Platform
// (platform_harness.h; broker with --route-wait-ms 0 and --cold-start-hold-ms
// 0, so a service without a ready replica answers 503 at once) and, created
// through the real HTTP APIs by an admin bootstrapped in the database: centers X and
// Y, tenants A and B, an operator per center, a member per tenant, a join
// token per center (made by its operator), a node per center registered
// through POST /agent/v1/register (kept alive by a heartbeat thread), an API
// key and a service (0 replicas) per tenant, and a logged gateway request per
// tenant (x-request-id "authz-req-a"/"-b"). Include from tests only.
//
// Contract:
//  - AuthzFixture::build() answers nullptr when the test is to be skipped
//    (no SCN_PG_URL outside CI); any setup step that fails REQUIREs.
//  - creds(role) are the role's standing credentials (session cookie, API
//    key or node secret as Bearer); fresh_creds(role) logs a user role in
//    again (for calls that end the session).
//  - new_*() make one more resource of a side through the API (for calls that
//    destroy theirs); every node it makes is kept alive by heartbeats.
//  - send() is one HTTP request with the credentials; a transport failure
//    answers status 0 with the error in `body`.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/e2e/platform_harness.h"

namespace scn::e2e::authz {

enum class Role { kAnonymous, kMemberA, kMemberB, kOperatorX, kOperatorY, kAdmin, kAgentX, kAgentY, kKeyA };
inline constexpr Role kRoles[] = {Role::kAnonymous, Role::kMemberA, Role::kMemberB,
                                  Role::kOperatorX, Role::kOperatorY, Role::kAdmin,
                                  Role::kAgentX,    Role::kAgentY,    Role::kKeyA};
std::string_view role_name(Role role);

// Resources of tenant A / center X / node X, or of tenant B / center Y / node Y.
enum class Side { kA, kB };
inline int idx(Side s) { return s == Side::kA ? 0 : 1; }

struct Creds {
  std::string cookie;  // "scn_session=..." or ""
  std::string bearer;  // API key or node secret, or ""
};

struct Answer {
  int status = 0;
  std::string body;
};

struct Node {
  std::string id, secret;
};

class AuthzFixture {
 public:
  static std::unique_ptr<AuthzFixture> build();
  ~AuthzFixture();

  Platform& platform() { return *platform_; }
  Creds creds(Role role) const;
  Creds fresh_creds(Role role);
  // The audit_log actor_name of the role's calls (username or key name; ""
  // for roles the broker does not know).
  std::string actor_name(Role role) const;

  Answer send(const std::string& base_url, std::string_view method, std::string_view path,
              std::string_view body, const Creds& creds,
              const std::vector<std::pair<std::string, std::string>>& headers = {});
  // As the admin, on the broker; REQUIREs `expect`.
  boost::json::object admin_call(std::string_view method, std::string_view path, std::string_view body,
                                 int expect);

  std::string unique(std::string_view prefix);  // "prefix-<n>"
  // Every secret the fixture made or used: passwords, session tokens, API
  // keys, join tokens, node secrets (for the secrets-in-logs check).
  std::vector<std::string> secrets();

  // Standing resources per side.
  std::string tenant[2], center[2], service[2], service_name[2], key_id[2], key[2], token_id[2];
  Node node[2];
  std::string request_id[2] = {"authz-req-a", "authz-req-b"};
  std::string admin_user_id;

  // More resources of a side, made through the API.
  std::string new_service(Side side);
  Node new_node(Side side);
  std::string new_drained_node(Side side);
  std::string new_key(Side side);
  std::string new_join_token(Side side);  // its id

 private:
  AuthzFixture() = default;
  void heartbeats();

  std::unique_ptr<Platform> platform_;
  std::string cookie_[6];  // by Role index (user roles)
  std::string username_[6];
  std::string join_token_[2];
  int counter_ = 0;
  std::mutex nodes_mu_;
  std::vector<Node> live_nodes_;
  std::vector<std::string> sessions_;  // every session token logged in
  std::atomic<bool> stop_{false};
  std::thread beater_;
};

}  // namespace scn::e2e::authz
