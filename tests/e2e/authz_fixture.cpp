#include "tests/e2e/authz_fixture.h"

#include "broker/accounts.h"
#include "common/http/client.h"

namespace scn::e2e::authz {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "authz-matrix-password";

int role_index(Role r) { return static_cast<int>(r); }

json::object parse_object(const Answer& a) {
  boost::system::error_code ec;
  json::value v = json::parse(a.body, ec);
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

std::string str(const json::object& o, std::string_view key) { return field(o, key); }

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kAnonymous: return "anonymous";
    case Role::kMemberA: return "member of tenant A";
    case Role::kMemberB: return "member of tenant B";
    case Role::kOperatorX: return "operator of center X";
    case Role::kOperatorY: return "operator of center Y";
    case Role::kAdmin: return "admin";
    case Role::kAgentX: return "agent of node X";
    case Role::kAgentY: return "agent of node Y";
    case Role::kKeyA: return "API key of tenant A";
  }
  return "?";
}

Answer AuthzFixture::send(const std::string& base_url, std::string_view method, std::string_view path,
                          std::string_view body, const Creds& creds,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  http::Headers h;
  if (!body.empty()) h.set("Content-Type", "application/json");
  if (!creds.cookie.empty()) h.set("Cookie", creds.cookie);
  if (!creds.bearer.empty()) h.set("Authorization", "Bearer " + creds.bearer);
  for (const auto& [k, v] : headers) h.set(k, v);
  auto r = http::request(method, base_url + std::string(path), body, h, 15s);
  if (!r.is_ok()) return Answer{0, r.status().to_string()};
  return Answer{r->status, std::move(r->body)};
}

json::object AuthzFixture::admin_call(std::string_view method, std::string_view path, std::string_view body,
                                      int expect) {
  Answer a = send(platform_->broker_url(), method, path, body, creds(Role::kAdmin));
  INFO("admin ", method, " ", path, " ", body, " -> ", a.status, " ", a.body);
  REQUIRE(a.status == expect);
  return parse_object(a);
}

std::string AuthzFixture::unique(std::string_view prefix) {
  return std::string(prefix) + "-" + std::to_string(++counter_);
}

Creds AuthzFixture::creds(Role role) const {
  switch (role) {
    case Role::kAnonymous: return {};
    case Role::kAgentX: return {"", node[0].secret};
    case Role::kAgentY: return {"", node[1].secret};
    case Role::kKeyA: return {"", key[0]};
    default: return {cookie_[role_index(role)], ""};
  }
}

std::string AuthzFixture::actor_name(Role role) const {
  if (role == Role::kKeyA) return "api-key:main";  // broker::Actor::of
  const int i = role_index(role);
  return i >= 1 && i <= 5 ? username_[i] : std::string();
}

Creds AuthzFixture::fresh_creds(Role role) {
  const int i = role_index(role);
  if (i < 1 || i > 5) return creds(role);
  json::object body{{"username", username_[i]}, {"password", kPassword}};
  auto r = http::request("POST", platform_->broker_url() + "/api/v1/auth/login", json::serialize(body),
                         http::Headers{{"Content-Type", "application/json"}}, 15s);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  INFO("login ", username_[i], ": ", r->body);
  REQUIRE(r->status == 200);
  std::string cookie = r->headers.get_or("Set-Cookie", "");
  cookie = cookie.substr(0, cookie.find(';'));
  REQUIRE(cookie.rfind("scn_session=", 0) == 0);
  sessions_.push_back(cookie.substr(std::string_view("scn_session=").size()));
  return {cookie, ""};
}

Node AuthzFixture::new_node(Side side) {
  json::object body{{"join_token", join_token_[idx(side)]},
                    {"name", unique(side == Side::kA ? "node-x" : "node-y")},
                    {"address", "127.0.0.1"},
                    {"labels", json::object{}},
                    {"simulated", true},
                    {"devices", json::array{json::object{{"kind", "cpu"}, {"model", "Test CPU"},
                                                         {"memory_bytes", 8LL << 30}, {"count", 4}},
                                            json::object{{"kind", "gpu"}, {"model", "H200"},
                                                         {"memory_bytes", 141LL << 30}, {"count", 2}}}}};
  Answer a = send(platform_->scheduler_url(), "POST", "/agent/v1/register", json::serialize(body), {});
  INFO("register: ", a.status, " ", a.body);
  REQUIRE(a.status == 201);
  auto o = parse_object(a);
  Node n{str(o, "node_id"), str(o, "node_secret")};
  REQUIRE(!n.id.empty());
  REQUIRE(n.secret.rfind("scn-node-", 0) == 0);
  std::lock_guard lock(nodes_mu_);
  live_nodes_.push_back(n);
  return n;
}

std::string AuthzFixture::new_drained_node(Side side) {
  Node n = new_node(side);
  admin_call("POST", "/api/v1/nodes/" + n.id + "/drain", "", 200);
  return n.id;
}

std::string AuthzFixture::new_service(Side side) {
  json::object body{{"name", unique("svc")}, {"model", "stories260k"}, {"replicas", 0},
                    {"tenant_id", tenant[idx(side)]}};
  return str(admin_call("POST", "/api/v1/services", json::serialize(body), 201), "id");
}

std::string AuthzFixture::new_key(Side side) {
  json::object body{{"name", unique("key")}, {"tenant_id", tenant[idx(side)]}};
  return str(admin_call("POST", "/api/v1/api-keys", json::serialize(body), 201), "id");
}

std::vector<std::string> AuthzFixture::secrets() {
  std::vector<std::string> out = sessions_;
  out.push_back(kPassword);
  for (int s = 0; s < 2; ++s) {
    out.push_back(key[s]);
    out.push_back(join_token_[s]);
  }
  std::lock_guard lock(nodes_mu_);
  for (const auto& n : live_nodes_) out.push_back(n.secret);
  return out;
}

std::string AuthzFixture::new_join_token(Side side) {
  return str(admin_call("POST", "/api/v1/centers/" + center[idx(side)] + "/join-tokens", "{}", 201), "id");
}

void AuthzFixture::heartbeats() {
  while (!stop_.load()) {
    std::vector<Node> nodes;
    {
      std::lock_guard lock(nodes_mu_);
      nodes = live_nodes_;
    }
    for (const auto& n : nodes) {
      json::object body{{"node_id", n.id}};
      send(platform_->scheduler_url(), "POST", "/agent/v1/heartbeat", json::serialize(body), {"", n.secret});
    }
    for (int i = 0; i < 10 && !stop_.load(); ++i) std::this_thread::sleep_for(100ms);
  }
}

AuthzFixture::~AuthzFixture() {
  stop_.store(true);
  if (beater_.joinable()) beater_.join();
}

std::unique_ptr<AuthzFixture> AuthzFixture::build() {
  std::unique_ptr<AuthzFixture> f(new AuthzFixture());
  PlatformOptions options;
  options.broker_args = {"--route-wait-ms", "0", "--cold-start-hold-ms", "0"};
  f->platform_ = Platform::start(options);
  if (!f->platform_) return nullptr;
  Platform& p = *f->platform_;
  INFO(p.logs());

  // The one user made in the database: the first admin.
  broker::NewUser root;
  root.username = "root";
  root.password = kPassword;
  root.role = broker::Role::kAdmin;
  auto admin = broker::create_user(p.pg(), root, broker::Actor{}, crypto::KdfParams{10, 8, 1});
  REQUIRE_MESSAGE(admin.is_ok(), admin.status().to_string());
  f->admin_user_id = admin->id;
  f->username_[role_index(Role::kAdmin)] = "root";
  f->cookie_[role_index(Role::kAdmin)] = f->fresh_creds(Role::kAdmin).cookie;

  // Everything else through the API.
  const char* center_names[2] = {"center-x", "center-y"};
  const char* tenant_names[2] = {"tenant-a", "tenant-b"};
  for (int s = 0; s < 2; ++s) {
    f->center[s] = str(f->admin_call("POST", "/api/v1/centers",
                                     json::serialize(json::object{{"name", center_names[s]},
                                                                  {"region", s == 0 ? "beijing" : "shanghai"}}),
                                     201),
                       "id");
    f->tenant[s] = str(f->admin_call("POST", "/api/v1/tenants",
                                     json::serialize(json::object{{"name", tenant_names[s]}}), 201),
                       "id");
  }
  struct UserSpec {
    Role role;
    const char* name;
    const char* kind;
    const char* ref_field;
    std::string ref;
  };
  const UserSpec users[] = {{Role::kMemberA, "alice", "member", "tenant_id", f->tenant[0]},
                            {Role::kMemberB, "bob", "member", "tenant_id", f->tenant[1]},
                            {Role::kOperatorX, "op-x", "operator", "center_id", f->center[0]},
                            {Role::kOperatorY, "op-y", "operator", "center_id", f->center[1]}};
  for (const auto& u : users) {
    json::object body{{"username", u.name}, {"password", kPassword}, {"role", u.kind}, {u.ref_field, u.ref}};
    f->admin_call("POST", "/api/v1/users", json::serialize(body), 201);
    f->username_[role_index(u.role)] = u.name;
    f->cookie_[role_index(u.role)] = f->fresh_creds(u.role).cookie;
  }

  // Join tokens by the operators, nodes through the agent API.
  for (int s = 0; s < 2; ++s) {
    const Role op = s == 0 ? Role::kOperatorX : Role::kOperatorY;
    Answer a = f->send(p.broker_url(), "POST", "/api/v1/centers/" + f->center[s] + "/join-tokens",
                       R"({"ttl_seconds": 3600, "max_uses": 1000})", f->creds(op));
    INFO("join token: ", a.body);
    REQUIRE(a.status == 201);
    auto o = parse_object(a);
    f->join_token_[s] = str(o, "token");
    f->token_id[s] = str(o, "id");
    f->node[s] = f->new_node(s == 0 ? Side::kA : Side::kB);
  }
  f->beater_ = std::thread([fp = f.get()] { fp->heartbeats(); });

  // Keys and services by the members.
  for (int s = 0; s < 2; ++s) {
    const Creds member = f->creds(s == 0 ? Role::kMemberA : Role::kMemberB);
    Answer k = f->send(p.broker_url(), "POST", "/api/v1/api-keys", R"({"name": "main"})", member);
    INFO("key: ", k.body);
    REQUIRE(k.status == 201);
    f->key[s] = str(parse_object(k), "key");
    f->key_id[s] = str(parse_object(k), "id");
    f->service_name[s] = s == 0 ? "svc-a" : "svc-b";
    json::object body{{"name", f->service_name[s]}, {"model", "stories260k"}, {"replicas", 0}};
    Answer sv = f->send(p.broker_url(), "POST", "/api/v1/services", json::serialize(body), member);
    INFO("service: ", sv.body);
    REQUIRE(sv.status == 201);
    f->service[s] = str(parse_object(sv), "id");
    // One logged gateway request per tenant (503: no replica).
    json::object req{{"model", f->service_name[s]}, {"prompt", "Once"}, {"max_tokens", 1}};
    Answer g = f->send(p.broker_url(), "POST", "/v1/completions", json::serialize(req), {"", f->key[s]},
                       {{"x-request-id", f->request_id[s]}});
    INFO("gateway: ", g.body);
    REQUIRE(g.status == 503);
  }
  for (int s = 0; s < 2; ++s) {
    const Creds member = f->creds(s == 0 ? Role::kMemberA : Role::kMemberB);
    const std::string path = "/api/v1/requests/" + f->request_id[s];
    REQUIRE(eventually(10s, [&] { return f->send(p.broker_url(), "GET", path, "", member).status == 200; }));
  }
  return f;
}

}  // namespace scn::e2e::authz
