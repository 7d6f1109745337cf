// The authorization matrix (issue 9): every endpoint of the broker and the
// scheduler x every role (authz_fixture.h) x a resource of side A (tenant A,
// center X, node X) and of side B, with the exact status docs/API.md
// promises. The endpoints of docs/API.md's platform section (its tables and
// `### METHOD /path` headings) and the routes the broker's ApiRouter
// registers must each have a row, so a new endpoint without one fails here.
// Every 404 for a foreign resource must equal the 404 for a missing one
// (same status and body, ids aside). Every state-changing call that
// succeeded must have written an audit_log row naming the caller, with an
// action, a time, outcome `ok` and client_ip (who, what, when, from where).
// Finally no secret of the run (passwords, session tokens, API keys, join
// tokens, node secrets) may appear in any process's log.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "broker/accounts_api.h"
#include "broker/api_router.h"
#include "broker/billing/billing_api.h"
#include "broker/broker_context.h"
#include "broker/console_api.h"
#include "broker/resources_api.h"
#include "common/db/pg.h"
#include "common/redis/redis.h"
#include "tests/e2e/authz_fixture.h"

namespace scn::e2e::authz {
namespace {

namespace json = boost::json;

enum class Server { kBroker, kScheduler };

// Expected statuses by the caller's relation to the resource. A row without
// a resource uses the *_own columns for every caller.
struct Expect {
  int anon, member_own, member_foreign, op_own, op_foreign, admin, agent_own, agent_foreign, key_own,
      key_foreign;
};

// Row shorthands: the same answer for every authenticated caller, etc.
constexpr Expect everyone(int s) { return {s, s, s, s, s, s, s, s, s, s}; }
// Logged-in people and keys; agents' node secrets are no broker credential.
constexpr Expect logged_in(int s) { return {401, s, s, s, s, s, 401, 401, s, s}; }
constexpr Expect admin_only(int s) { return {401, 403, 403, 403, 403, s, 401, 401, 403, 403}; }
// Tenant resources: owner (member or key) and admin; operators 403.
constexpr Expect tenant_owned(int s) { return {401, s, 404, 403, 403, s, 401, 401, s, 404}; }
// Center resources: admin and the center's operator; members and keys 403.
constexpr Expect center_owned(int s) { return {401, 403, 403, s, 404, s, 401, 401, 403, 403}; }

struct Call {
  std::string path;  // with the query
  std::string body;
};

struct Row {
  Server server;
  std::string method;
  std::string doc_path;  // the endpoint as docs/API.md writes it (query dropped)
  std::string variant;   // what this row checks besides the plain call
  bool scoped;           // run against side A's and side B's resource
  bool fresh_session;    // the call ends the caller's session
  std::function<Call(AuthzFixture&, Side)> make;
  Expect expect;
};

std::string j(const json::object& o) { return json::serialize(o); }

std::vector<Row> matrix() {
  using F = AuthzFixture;
  const auto plain = [](std::string path, std::string body = {}) {
    return [path, body](F&, Side) { return Call{path, body}; };
  };
  std::vector<Row> r;
  const auto B = Server::kBroker;
  // clang-format off
  // --- console, authentication
  r.push_back({B, "GET", "/api/v1/config", "", false, false, plain("/api/v1/config"), everyone(200)});
  r.push_back({B, "POST", "/api/v1/auth/login", "bad password", false, false,
               [](F& f, Side) { return Call{"/api/v1/auth/login", j({{"username", f.unique("nobody")}, {"password", "wrong-password"}})}; },
               everyone(401)});
  r.push_back({B, "POST", "/api/v1/auth/logout", "", false, true, plain("/api/v1/auth/logout"),
               {401, 204, 204, 204, 204, 204, 401, 401, 403, 403}});
  r.push_back({B, "GET", "/api/v1/auth/me", "", false, false, plain("/api/v1/auth/me"), logged_in(200)});
  // --- tenants and users
  r.push_back({B, "POST", "/api/v1/tenants", "", false, false,
               [](F& f, Side) { return Call{"/api/v1/tenants", j({{"name", f.unique("t")}})}; }, admin_only(201)});
  r.push_back({B, "GET", "/api/v1/tenants", "", false, false, plain("/api/v1/tenants"), admin_only(200)});
  r.push_back({B, "GET", "/api/v1/tenants/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/tenants/" + f.tenant[idx(s)], ""}; }, tenant_owned(200)});
  r.push_back({B, "POST", "/api/v1/users", "", false, false,
               [](F& f, Side) { return Call{"/api/v1/users", j({{"username", f.unique("u")}, {"password", "long-enough-1"}, {"role", "admin"}})}; },
               admin_only(201)});
  r.push_back({B, "GET", "/api/v1/users", "", false, false, plain("/api/v1/users"), admin_only(200)});
  // --- editing accounts (issue 6): each call gets a fresh user / membership / price of its own
  const auto fresh_member = [](F& f, Side s) {
    return std::string(f.admin_call("POST", "/api/v1/users",
                                    j({{"username", f.unique("m")}, {"password", "long-enough-1"}, {"role", "member"},
                                       {"tenant_id", f.tenant[idx(s)]}}),
                                    201)
                           .at("id")
                           .as_string());
  };
  const Expect admin_scoped = {401, 403, 403, 403, 403, 200, 401, 401, 403, 403};
  const auto with = [](Expect e, int admin) { e.admin = admin; return e; };
  r.push_back({B, "POST", "/api/v1/auth/password", "wrong old_password", false, false,
               plain("/api/v1/auth/password", R"({"old_password": "not-the-password", "new_password": "long-enough-2"})"),
               {401, 422, 422, 422, 422, 422, 401, 401, 403, 403}});
  r.push_back({B, "PATCH", "/api/v1/users/{id}", "", true, false,
               [fresh_member](F& f, Side s) { return Call{"/api/v1/users/" + fresh_member(f, s), R"({"display_name": "Renamed"})"}; },
               admin_only(200)});
  r.push_back({B, "DELETE", "/api/v1/users/{id}", "", true, false,
               [fresh_member](F& f, Side s) { return Call{"/api/v1/users/" + fresh_member(f, s), ""}; }, admin_only(204)});
  r.push_back({B, "POST", "/api/v1/users/{id}/password", "", true, false,
               [fresh_member](F& f, Side s) {
                 return Call{"/api/v1/users/" + fresh_member(f, s) + "/password", R"({"password": "long-enough-3"})"};
               },
               admin_only(204)});
  r.push_back({B, "PATCH", "/api/v1/tenants/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/tenants/" + f.tenant[idx(s)], j({{"display_name", f.unique("Tenant")}})}; },
               admin_scoped});
  // Suspending is the same endpoint's "status" field (admin only), on a fresh
  // tenant each call so the sides' tenants stay usable (what a suspension
  // refuses: broker/tenant_suspension_test.cpp).
  r.push_back({B, "PATCH", "/api/v1/tenants/{id}", "status: suspend a fresh tenant", false, false,
               [](F& f, Side) {
                 const auto t = f.admin_call("POST", "/api/v1/tenants", j({{"name", f.unique("t")}}), 201);
                 return Call{"/api/v1/tenants/" + std::string(t.at("id").as_string()), j({{"status", "suspended"}})};
               },
               admin_scoped});
  r.push_back({B, "GET", "/api/v1/tenants/{id}/members", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/tenants/" + f.tenant[idx(s)] + "/members", ""}; },
               {401, 200, 404, 403, 403, 200, 401, 401, 403, 403}});
  r.push_back({B, "POST", "/api/v1/tenants/{id}/members", "a member without a tenant", true, false,
               [fresh_member](F& f, Side s) {
                 const std::string user = fresh_member(f, s);
                 f.admin_call("DELETE", "/api/v1/tenants/" + f.tenant[idx(s)] + "/members/" + user, "", 204);
                 return Call{"/api/v1/tenants/" + f.tenant[idx(s)] + "/members", j({{"user_id", user}})};
               },
               with(admin_scoped, 201)});
  r.push_back({B, "DELETE", "/api/v1/tenants/{id}/members/{user_id}", "", true, false,
               [fresh_member](F& f, Side s) {
                 return Call{"/api/v1/tenants/" + f.tenant[idx(s)] + "/members/" + fresh_member(f, s), ""};
               },
               with(admin_scoped, 204)});
  // --- centers and join tokens
  r.push_back({B, "POST", "/api/v1/centers", "", false, false,
               [](F& f, Side) { return Call{"/api/v1/centers", j({{"name", f.unique("c")}, {"region", "hubei"}})}; },
               admin_only(201)});
  r.push_back({B, "GET", "/api/v1/centers", "", false, false, plain("/api/v1/centers"), logged_in(200)});
  r.push_back({B, "GET", "/api/v1/centers/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/centers/" + f.center[idx(s)], ""}; },
               {401, 200, 200, 200, 404, 200, 401, 401, 200, 200}});
  r.push_back({B, "POST", "/api/v1/centers/{id}/join-tokens", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/centers/" + f.center[idx(s)] + "/join-tokens", "{}"}; },
               center_owned(201)});
  r.push_back({B, "GET", "/api/v1/centers/{id}/join-tokens", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/centers/" + f.center[idx(s)] + "/join-tokens", ""}; },
               center_owned(200)});
  r.push_back({B, "DELETE", "/api/v1/centers/{id}/join-tokens/{token_id}", "", true, false,
               [](F& f, Side s) {
                 return Call{"/api/v1/centers/" + f.center[idx(s)] + "/join-tokens/" + f.new_join_token(s), ""};
               },
               center_owned(204)});
  // --- nodes
  r.push_back({B, "GET", "/api/v1/nodes", "", false, false, plain("/api/v1/nodes"),
               {401, 403, 403, 200, 200, 200, 401, 401, 403, 403}});
  r.push_back({B, "GET", "/api/v1/nodes", "?center_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/nodes?center_id=" + f.center[idx(s)], ""}; },
               {401, 403, 403, 200, 403, 200, 401, 401, 403, 403}});
  r.push_back({B, "GET", "/api/v1/nodes/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/nodes/" + f.node[idx(s)].id, ""}; }, center_owned(200)});
  r.push_back({B, "POST", "/api/v1/nodes/{id}/drain", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/nodes/" + f.new_node(s).id + "/drain", ""}; },
               center_owned(200)});
  r.push_back({B, "POST", "/api/v1/nodes/{id}/undrain", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/nodes/" + f.new_drained_node(s) + "/undrain", ""}; },
               center_owned(200)});
  r.push_back({B, "DELETE", "/api/v1/nodes/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/nodes/" + f.new_node(s).id, ""}; }, center_owned(204)});
  // --- catalog
  r.push_back({B, "GET", "/api/v1/catalog/models", "", false, false, plain("/api/v1/catalog/models"), logged_in(200)});
  r.push_back({B, "GET", "/api/v1/catalog/models/{name}", "", false, false, plain("/api/v1/catalog/models/stories260k"),
               logged_in(200)});
  r.push_back({B, "POST", "/api/v1/catalog/import", "an empty catalog", false, false,
               plain("/api/v1/catalog/import", R"({"version": 1, "models": []})"), admin_only(200)});
  // --- services (created with the side's tenant_id: a member naming another tenant is 403)
  r.push_back({B, "POST", "/api/v1/services", "body tenant_id", true, false,
               [](F& f, Side s) {
                 return Call{"/api/v1/services", j({{"name", f.unique("s")}, {"model", "stories260k"}, {"replicas", 0},
                                                    {"tenant_id", f.tenant[idx(s)]}})};
               },
               {401, 201, 403, 403, 403, 201, 401, 401, 201, 403}});
  r.push_back({B, "GET", "/api/v1/services", "", false, false, plain("/api/v1/services"),
               {401, 200, 200, 403, 403, 200, 401, 401, 200, 200}});
  r.push_back({B, "GET", "/api/v1/services", "?tenant_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/services?tenant_id=" + f.tenant[idx(s)], ""}; },
               {401, 200, 403, 403, 403, 200, 401, 401, 200, 403}});
  r.push_back({B, "GET", "/api/v1/services/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/services/" + f.service[idx(s)], ""}; }, tenant_owned(200)});
  r.push_back({B, "POST", "/api/v1/services/{id}/scale", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/services/" + f.service[idx(s)] + "/scale", R"({"replicas": 0})"}; },
               tenant_owned(200)});
  r.push_back({B, "POST", "/api/v1/services/{id}/autoscale", "", true, false,
               [](F& f, Side s) {
                 return Call{"/api/v1/services/" + f.service[idx(s)] + "/autoscale", R"({"min_replicas": 0, "max_replicas": 1})"};
               },
               tenant_owned(200)});
  r.push_back({B, "POST", "/api/v1/services/{id}/stop", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/services/" + f.service[idx(s)] + "/stop", ""}; },
               tenant_owned(200)});
  r.push_back({B, "DELETE", "/api/v1/services/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/services/" + f.new_service(s), ""}; }, tenant_owned(204)});
  // --- API keys
  r.push_back({B, "POST", "/api/v1/api-keys", "body tenant_id", true, false,
               [](F& f, Side s) { return Call{"/api/v1/api-keys", j({{"name", f.unique("k")}, {"tenant_id", f.tenant[idx(s)]}})}; },
               tenant_owned(201)});
  r.push_back({B, "GET", "/api/v1/api-keys", "", false, false, plain("/api/v1/api-keys"),
               {401, 200, 200, 403, 403, 200, 401, 401, 200, 200}});
  r.push_back({B, "GET", "/api/v1/api-keys/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/api-keys/" + f.key_id[idx(s)], ""}; }, tenant_owned(200)});
  r.push_back({B, "PATCH", "/api/v1/api-keys/{id}", "", true, false,
               [](F& f, Side s) {
                 return Call{"/api/v1/api-keys/" + f.key_id[idx(s)], R"({"limits": {"requests_per_minute": 100000}})"};
               },
               tenant_owned(200)});
  r.push_back({B, "DELETE", "/api/v1/api-keys/{id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/api-keys/" + f.new_key(s), ""}; }, tenant_owned(204)});
  // --- limits
  r.push_back({B, "GET", "/api/v1/tenants/{id}/limits", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/tenants/" + f.tenant[idx(s)] + "/limits", ""}; }, tenant_owned(200)});
  r.push_back({B, "PUT", "/api/v1/tenants/{id}/limits", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/tenants/" + f.tenant[idx(s)] + "/limits", R"({"max_replicas": 50})"}; },
               {401, 403, 403, 403, 403, 200, 401, 401, 403, 403}});
  // --- usage, pool, audit
  r.push_back({B, "GET", "/api/v1/usage", "", false, false, plain("/api/v1/usage"),
               {401, 200, 200, 403, 403, 200, 401, 401, 200, 200}});
  r.push_back({B, "GET", "/api/v1/usage", "?tenant_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/usage?tenant_id=" + f.tenant[idx(s)], ""}; },
               {401, 200, 403, 403, 403, 200, 401, 401, 200, 403}});
  r.push_back({B, "GET", "/api/v1/usage", "?service_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/usage?service_id=" + f.service[idx(s)], ""}; }, tenant_owned(200)});
  r.push_back({B, "GET", "/api/v1/pool", "", false, false, plain("/api/v1/pool"), admin_only(200)});
  r.push_back({B, "GET", "/api/v1/pool/history", "", false, false, plain("/api/v1/pool/history"), admin_only(200)});
  r.push_back({B, "GET", "/api/v1/audit", "", false, false, plain("/api/v1/audit"), admin_only(200)});
  // --- requests, prices, bills
  r.push_back({B, "GET", "/api/v1/requests", "", false, false, plain("/api/v1/requests"),
               {401, 200, 200, 403, 403, 200, 401, 401, 200, 200}});
  r.push_back({B, "GET", "/api/v1/requests", "?service_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/requests?service_id=" + f.service[idx(s)], ""}; }, tenant_owned(200)});
  r.push_back({B, "GET", "/api/v1/requests", "?tenant_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/requests?tenant_id=" + f.tenant[idx(s)], ""}; },
               {401, 200, 403, 403, 403, 200, 401, 401, 200, 403}});
  r.push_back({B, "GET", "/api/v1/requests/{request_id}", "", true, false,
               [](F& f, Side s) { return Call{"/api/v1/requests/" + f.request_id[idx(s)], ""}; }, tenant_owned(200)});
  r.push_back({B, "GET", "/api/v1/prices", "", false, false, plain("/api/v1/prices"), logged_in(200)});
  r.push_back({B, "PUT", "/api/v1/prices", "", false, false,
               plain("/api/v1/prices", R"({"model": "*", "prompt_per_million": "1.5"})"), admin_only(200)});
  r.push_back({B, "DELETE", "/api/v1/prices/{id}", "", false, false,
               [](F& f, Side) {
                 const auto price = f.admin_call("PUT", "/api/v1/prices", j({{"model", f.unique("priced")}, {"replica_hour", "1"}}), 200);
                 return Call{"/api/v1/prices/" + std::to_string(price.at("id").as_int64()), ""};
               },
               admin_only(204)});
  r.push_back({B, "GET", "/api/v1/bills", "", false, false, plain("/api/v1/bills"),
               {401, 200, 200, 403, 403, 200, 401, 401, 200, 200}});
  r.push_back({B, "GET", "/api/v1/bills", "?tenant_id=", true, false,
               [](F& f, Side s) { return Call{"/api/v1/bills?tenant_id=" + f.tenant[idx(s)], ""}; },
               {401, 200, 403, 403, 403, 200, 401, 401, 200, 403}});
  // --- the OpenAI gateway: API keys only; own service 503 (no replica,
  // --route-wait-ms 0), another tenant's 404 model_not_found.
  const Expect gateway_model = {401, 401, 401, 401, 401, 401, 401, 401, 503, 404};
  r.push_back({B, "GET", "/v1/models", "", false, false, plain("/v1/models"), {401, 401, 401, 401, 401, 401, 401, 401, 200, 200}});
  r.push_back({B, "POST", "/v1/completions", "model of the side's tenant", true, false,
               [](F& f, Side s) { return Call{"/v1/completions", j({{"model", f.service_name[idx(s)]}, {"prompt", "Once"}, {"max_tokens", 1}})}; },
               gateway_model});
  r.push_back({B, "POST", "/v1/chat/completions", "model of the side's tenant", true, false,
               [](F& f, Side s) {
                 return Call{"/v1/chat/completions",
                             j({{"model", f.service_name[idx(s)]}, {"messages", json::array{json::object{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 1}})};
               },
               gateway_model});
  r.push_back({B, "POST", "/v1/embeddings", "model of the side's tenant", true, false,
               [](F& f, Side s) { return Call{"/v1/embeddings", j({{"model", f.service_name[idx(s)]}, {"input", "Hi"}})}; },
               {401, 401, 401, 401, 401, 401, 401, 401, 404, 404}});
  // --- open endpoints of the broker
  r.push_back({B, "GET", "/health", "broker", false, false, plain("/health"), everyone(200)});
  r.push_back({B, "GET", "/metrics", "broker", false, false, plain("/metrics"), everyone(200)});
  r.push_back({B, "GET", "/store/{file_name}", "", false, false, plain("/store/stories260K.gguf"), everyone(200)});
  // --- the scheduler. Register: each caller sends its own credential as
  // the join token (none is one); valid tokens are used by the fixture.
  const auto S = Server::kScheduler;
  r.push_back({S, "POST", "/agent/v1/register", "the caller's credential as join_token", false, false,
               [](F&, Side) { return Call{"/agent/v1/register", ""}; }, everyone(401)});
  r.push_back({S, "POST", "/agent/v1/heartbeat", "body node_id of the side's node", true, false,
               [](F& f, Side s) { return Call{"/agent/v1/heartbeat", j({{"node_id", f.node[idx(s)].id}})}; },
               {401, 401, 401, 401, 401, 401, 200, 401, 401, 401}});
  r.push_back({S, "GET", "/health", "scheduler", false, false, plain("/health"), everyone(200)});
  r.push_back({S, "GET", "/metrics", "scheduler", false, false, plain("/metrics"), everyone(200)});
  // clang-format on
  return r;
}

// The caller's relation to a side's resource -> the expected status.
int expected(const Row& row, Role role, Side side) {
  const Expect& e = row.expect;
  const bool a = !row.scoped || side == Side::kA;
  const bool b = !row.scoped || side == Side::kB;
  switch (role) {
    case Role::kAnonymous: return e.anon;
    case Role::kMemberA: return a ? e.member_own : e.member_foreign;
    case Role::kMemberB: return b ? e.member_own : e.member_foreign;
    case Role::kOperatorX: return a ? e.op_own : e.op_foreign;
    case Role::kOperatorY: return b ? e.op_own : e.op_foreign;
    case Role::kAdmin: return e.admin;
    case Role::kAgentX: return a ? e.agent_own : e.agent_foreign;
    case Role::kAgentY: return b ? e.agent_own : e.agent_foreign;
    case Role::kKeyA: return a ? e.key_own : e.key_foreign;
  }
  return 0;
}

// "GET /api/v1/nodes/{id}" with every parameter named "{}" and the query dropped.
std::string endpoint_key(std::string_view method, std::string_view path) {
  std::string p(path.substr(0, path.find_first_of("[?")));
  static const std::regex param(R"(\{[^}/]*\})");
  return std::string(method) + " " + std::regex_replace(p, param, "{}");
}

// Table rows whose first cell is `METHOD /path`, and `### `METHOD /path``
// headings, as endpoint keys.
std::set<std::string> endpoints_in(const std::string& text) {
  static const std::regex row(R"(^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|)");
  static const std::regex heading(R"(^### `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`\s*$)");
  std::set<std::string> out;
  std::istringstream lines(text);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, m, row) || std::regex_search(line, m, heading)) {
      out.insert(endpoint_key(m[1].str(), m[2].str()));
    }
  }
  return out;
}

// The endpoints of the platform's API pages: docs/API.md from "# The
// platform" on (conventions and the index of every endpoint) and every page
// under docs/api/ (broker, scheduler, security); table rows whose first cell
// is `METHOD /path`, and `### `METHOD /path`` headings.
std::set<std::string> documented_endpoints(std::string* section_text) {
  const char* source = std::getenv("SCN_SOURCE_DIR");
  const std::filesystem::path root =
      source != nullptr ? std::filesystem::path(source)
                        : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  auto read = [](const std::filesystem::path& f) {
    std::ifstream in(f);
    REQUIRE_MESSAGE(in.good(), (f.string() + " not readable"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string api = read(root / "docs" / "API.md");
  const auto start = api.find("\n# The platform");
  REQUIRE(start != std::string::npos);
  *section_text = api.substr(start);
  std::vector<std::filesystem::path> pages;
  for (const auto& e : std::filesystem::directory_iterator(root / "docs" / "api")) {
    if (e.path().extension() == ".md") pages.push_back(e.path());
  }
  std::sort(pages.begin(), pages.end());
  REQUIRE_MESSAGE(pages.size() >= 3, "docs/api/*.md missing");
  std::string page_text;
  for (const auto& page : pages) page_text += "\n" + read(page);
  // docs/API.md's index lists exactly the endpoints the pages describe.
  const auto indexed = endpoints_in(*section_text);
  const auto described = endpoints_in(page_text);
  for (const auto& e : described) {
    INFO("described in docs/api/ but missing from docs/API.md's index: ", e);
    CHECK(indexed.count(e) == 1);
  }
  for (const auto& e : indexed) {
    INFO("in docs/API.md's index but described on no page of docs/api/: ", e);
    CHECK(described.count(e) == 1);
  }
  *section_text += page_text;
  return endpoints_in(*section_text);
}

// The (method, pattern) routes of the broker's /api/v1 router, registered as
// `scn broker` registers them.
std::set<std::string> router_endpoints(AuthzFixture& f) {
  db::PgOptions po;
  po.url = f.platform().pg_url();
  po.pool_size = 1;
  auto pg = db::PgPool::connect(po);
  REQUIRE_MESSAGE(pg.is_ok(), pg.status().to_string());
  auto redis = redis::RedisClient::connect(f.platform().redis_url());
  REQUIRE_MESSAGE(redis.is_ok(), redis.status().to_string());
  broker::BrokerContext ctx{**pg, **redis, f.platform().redis_url(), crypto::KdfParams{10, 8, 1}};
  broker::ApiRouter router(nullptr);
  broker::add_account_routes(router, ctx);
  broker::add_resource_routes(router, ctx);
  broker::add_billing_routes(router, ctx);
  broker::add_console_routes(router, ctx, broker::ConsoleConfig{""});
  std::set<std::string> out;
  for (const auto& [method, pattern] : router.routes()) out.insert(endpoint_key(method, pattern));
  return out;
}

// Every uuid -> one unknown uuid, the logged request ids -> an unknown one.
std::string anonymised(const std::string& text) {
  static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  static const std::regex request_id("authz-req-[ab]");
  return std::regex_replace(std::regex_replace(text, uuid, "00000000-0000-4000-8000-00000000abcd"), request_id,
                            "authz-req-none");
}

std::int64_t max_audit_id(db::PgPool& pg) { return sql_count(pg, "SELECT coalesce(max(id), 0) FROM audit_log"); }

struct AuditMiss {
  std::string cell;
  std::string why;
};

TEST_CASE("authz: every endpoint x every role x own/foreign resource answers the documented status") {
  auto fixture = AuthzFixture::build();
  if (!fixture) {
    MESSAGE("SKIPPED: SCN_PG_URL is not set");
    return;
  }
  AuthzFixture& f = *fixture;
  Platform& p = f.platform();
  const std::vector<Row> rows = matrix();

  // 1. Coverage: documented endpoints and registered routes each have a row.
  std::set<std::string> in_table;
  for (const auto& row : rows) in_table.insert(endpoint_key(row.method, row.doc_path));
  std::string section;
  const auto documented = documented_endpoints(&section);
  CHECK(documented.size() >= 40);
  for (const auto& e : documented) {
    INFO("documented in docs/API.md but no row in the authorization matrix: ", e);
    CHECK(in_table.count(e) == 1);
  }
  const auto registered = router_endpoints(f);
  MESSAGE("endpoints: ", documented.size(), " in docs/API.md's tables, ", registered.size(),
          " /api/v1 routes registered, ", in_table.size(), " in the matrix");
  for (const auto& e : registered) {
    INFO("registered by the broker's ApiRouter but no row in the authorization matrix: ", e);
    CHECK(in_table.count(e) == 1);
  }
  for (const auto& row : rows) {
    const std::string mention = "`" + row.method + " " + row.doc_path;
    INFO("a row whose endpoint docs/API.md's platform section does not mention: ", mention);
    CHECK(section.find(mention) != std::string::npos);
  }

  // 2. The matrix.
  std::vector<std::string> mismatches;
  std::vector<AuditMiss> audit_misses;
  std::vector<std::string> distinguishable;
  int compared = 0;
  int cells = 0;
  for (const auto& row : rows) {
    const std::string base = row.server == Server::kBroker ? p.broker_url() : p.scheduler_url();
    for (Side side : {Side::kA, Side::kB}) {
      if (!row.scoped && side == Side::kB) continue;
      for (Role role : kRoles) {
        const Creds creds = row.fresh_session ? f.fresh_creds(role) : f.creds(role);
        Call call = row.make(f, side);
        if (row.doc_path == "/agent/v1/register") {
          const std::string credential = !creds.bearer.empty() ? creds.bearer : creds.cookie;
          call.body = json::serialize(json::object{
              {"join_token", credential}, {"name", f.unique("reg")}, {"address", "127.0.0.1"},
              {"devices", json::array{json::object{{"kind", "cpu"}, {"model", "x"}, {"memory_bytes", 1LL << 30}, {"count", 1}}}}});
        }
        const std::int64_t audit_before = max_audit_id(p.pg());
        const Answer a = f.send(base, row.method, call.path, call.body, creds);
        ++cells;
        const int want = expected(row, role, side);
        const std::string cell = row.method + " " + call.path + (row.variant.empty() ? "" : " [" + row.variant + "]") +
                                 " as " + std::string(role_name(role)) +
                                 (row.scoped ? (side == Side::kA ? " (side A)" : " (side B)") : "");
        if (a.status != want) {
          mismatches.push_back(cell + ": expected " + std::to_string(want) + ", got " + std::to_string(a.status) +
                               " " + a.body.substr(0, 200));
        }
        // A foreign resource answers exactly as a missing one (same 404 body).
        if (want == 404 && a.status == 404 && call.path.rfind("/api/v1/", 0) == 0) {
          const Call missing{anonymised(call.path), anonymised(call.body)};
          const Answer m = f.send(base, row.method, missing.path, missing.body, creds);
          ++compared;
          if (m.status != 404 || anonymised(m.body) != anonymised(a.body)) {
            distinguishable.push_back(cell + ": foreign " + a.body.substr(0, 150) + " vs missing " +
                                      std::to_string(m.status) + " " + m.body.substr(0, 150));
          }
        }
        // Audit: a state change that succeeded wrote a row naming who and from where.
        const bool changes = row.method != "GET" && row.doc_path != "/agent/v1/heartbeat";
        if (changes && a.status >= 200 && a.status < 300) {
          const std::int64_t rows_after = sql_count(
              p.pg(), "SELECT count(*) FROM audit_log WHERE id > " + std::to_string(audit_before) +
                          " AND actor_name = '" + f.actor_name(role) +
                          "' AND at IS NOT NULL AND action <> '' AND outcome = 'ok'");
          const std::int64_t with_ip = sql_count(
              p.pg(), "SELECT count(*) FROM audit_log WHERE id > " + std::to_string(audit_before) +
                          " AND client_ip IS NOT NULL");
          if (rows_after == 0) audit_misses.push_back({cell, "no audit_log row naming the caller"});
          else if (with_ip == 0) audit_misses.push_back({cell, "audit_log row without client_ip"});
        }
      }
    }
  }
  MESSAGE("authorization matrix: ", rows.size(), " rows, ", cells, " cells, ", mismatches.size(),
          " mismatches, ", audit_misses.size(), " state changes without a full audit row, ", distinguishable.size(),
          " of ", compared,
          " foreign resources distinguishable from missing ones");
  CHECK(compared >= 20);
  for (const auto& m : mismatches) {
    INFO(m);
    CHECK_MESSAGE(false, m);
  }
  for (const auto& d : distinguishable) {
    const std::string text = "foreign differs from missing: " + d;
    CHECK_MESSAGE(false, text);
  }
  for (const auto& m : audit_misses) {
    const std::string text = m.cell + ": " + m.why;
    CHECK_MESSAGE(false, text);
  }

  // 3. No secret of the run is in any process's log (issue 9, "secrets never
  // in logs"): passwords, session tokens, API keys, join tokens, node secrets.
  const auto secrets = f.secrets();
  CHECK(secrets.size() >= 12);
  int logs_read = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(p.dir() / "logs")) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string log = ss.str();
    ++logs_read;
    for (const auto& secret : secrets) {
      if (secret.size() < 8) continue;
      INFO("a secret (", secret.substr(0, 12), "...) is in ", entry.path().string());
      CHECK(log.find(secret) == std::string::npos);
    }
  }
  CHECK(logs_read >= 2);
}

}  // namespace
}  // namespace scn::e2e::authz
