#include "tests/e2e/e2e_world.h"

#include <fstream>
#include <sstream>

#include "broker/accounts.h"
#include "common/http/client.h"

namespace scn::e2e {

namespace json = boost::json;
using namespace std::chrono_literals;

void make_user(db::PgPool& pg, const std::string& name, broker::Role role, const std::string& tenant,
               const std::string& center) {
  broker::NewUser u;
  u.username = name;
  u.password = kE2ePassword;
  u.role = role;
  u.tenant_id = tenant;
  u.center_id = center;
  auto r = broker::create_user(pg, u, broker::Actor{}, crypto::KdfParams{10, 8, 1});
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
}

ApiSession logged_in(const std::string& url, const std::string& user, const std::string& logs) {
  ApiSession s(url);
  auto a = s.login(user, kE2ePassword);
  INFO(logs);
  REQUIRE_MESSAGE(a.is_ok(), a.status().to_string());
  INFO("login ", user, ": ", a->raw);
  REQUIRE(a->status == 200);
  REQUIRE_FALSE(s.cookie().empty());
  return s;
}

namespace {

// The operator creates a join token for their center through the API.
std::string join_token(ApiSession& op, const std::string& center_id, int uses) {
  auto a = op.call("POST", "/api/v1/centers/" + center_id + "/join-tokens",
                   json::serialize(json::object{{"ttl_seconds", 600}, {"max_uses", uses}}));
  REQUIRE(a.is_ok());
  INFO("join token: ", a->raw);
  REQUIRE(a->status == 201);
  REQUIRE(a->str("token").rfind("scn-join-", 0) == 0);
  return a->str("token");
}

std::unique_ptr<World> build_world() {
  auto w = std::make_unique<World>();
  w->platform = Platform::start();
  if (!w->platform) return nullptr;
  Platform& p = *w->platform;
  INFO(p.logs());
  db::PgPool& pg = p.pg();
  broker::Actor actor;
  auto ca = broker::create_center(pg, {"center-a", "beijing", 2.5, 0.05}, actor);
  auto cb = broker::create_center(pg, {"center-b", "shanghai", 1.5, 0.04}, actor);
  REQUIRE_MESSAGE(ca.is_ok(), ca.status().to_string());
  REQUIRE_MESSAGE(cb.is_ok(), cb.status().to_string());
  w->center_a = ca->id;
  w->center_b = cb->id;
  broker::NewTenant ta, tb;
  ta.name = "tenant-a";
  tb.name = "tenant-b";
  auto rta = broker::create_tenant(pg, ta, actor);
  auto rtb = broker::create_tenant(pg, tb, actor);
  REQUIRE_MESSAGE(rta.is_ok(), rta.status().to_string());
  REQUIRE_MESSAGE(rtb.is_ok(), rtb.status().to_string());
  w->tenant_a = rta->id;
  w->tenant_b = rtb->id;
  make_user(pg, "root", broker::Role::kAdmin, "", "");
  make_user(pg, "op-a", broker::Role::kOperator, "", w->center_a);
  make_user(pg, "op-b", broker::Role::kOperator, "", w->center_b);
  make_user(pg, "alice", broker::Role::kMember, w->tenant_a, "");
  make_user(pg, "bob", broker::Role::kMember, w->tenant_b, "");

  const std::string url = p.broker_url();
  w->admin = logged_in(url, "root", p.logs());
  w->op_a = logged_in(url, "op-a", p.logs());
  w->op_b = logged_in(url, "op-b", p.logs());
  w->alice = logged_in(url, "alice", p.logs());
  w->bob = logged_in(url, "bob", p.logs());

  const std::string token_a = join_token(w->op_a, w->center_a, 2);
  const std::string token_b = join_token(w->op_b, w->center_b, 1);
  p.add_agent("a-1", token_a, "8xH200-141G");
  p.add_agent("a-2", token_a, "8xA100-80G");
  p.add_agent("b-1", token_b, "4xAscend-910B-64G");
  std::string last;
  bool joined = eventually(30s, [&] {
    auto a = w->admin.call("GET", "/api/v1/nodes");
    if (!a.is_ok()) return false;
    last = a->raw;
    int alive = 0;
    for (const auto& n : rows(*a)) {
      const auto* al = n.if_contains("alive");
      if (field(n, "status") == "ready" && al != nullptr && al->is_bool() && al->as_bool()) ++alive;
    }
    return alive == 3;
  });
  INFO("nodes: ", last);
  REQUIRE(joined);

  auto key = w->alice.call("POST", "/api/v1/api-keys", R"({"name": "e2e"})");
  REQUIRE(key.is_ok());
  INFO("api key: ", key->raw);
  REQUIRE(key->status == 201);
  w->key_a = key->str("key");
  w->key_a_id = key->str("id");
  REQUIRE(w->key_a.rfind("scn-key-", 0) == 0);

  auto svc = w->alice.call("POST", "/api/v1/services",
                           R"({"name": "stories", "model": "stories260k", "replicas": 2})");
  REQUIRE(svc.is_ok());
  INFO("create service: ", svc->raw);
  REQUIRE(svc->status == 201);
  w->service_id = svc->str("id");
  bool ready = eventually(90s, [&] {
    auto a = w->alice.call("GET", "/api/v1/services/" + w->service_id);
    if (!a.is_ok() || !a->body.is_object()) return false;
    last = a->raw;
    return int_field(a->body.as_object(), "replicas_ready") == 2;
  });
  INFO("service: ", last);
  REQUIRE(ready);
  return w;
}

}  // namespace

ApiSession World::gateway() const {
  ApiSession s(platform->broker_url());
  s.use_api_key(key_a);
  return s;
}

World* world() {
  static std::unique_ptr<World> w;
  static bool built = false, skipped = false;
  if (!built) {
    built = true;  // one attempt: a failed set-up fails every test that needs it
    skipped = false;
    w = build_world();  // REQUIREs throw out of here on failure
    skipped = w == nullptr;
    return w.get();
  }
  if (w == nullptr && !skipped) FAIL("the end-to-end world could not be built (see the first failure)");
  return w.get();
}

json::object get_service(ApiSession& who, const std::string& id) {
  auto a = who.call("GET", "/api/v1/services/" + id);
  REQUIRE(a.is_ok());
  INFO("service: ", a->raw);
  REQUIRE(a->status == 200);
  REQUIRE(a->body.is_object());
  return a->body.as_object();
}

std::vector<json::object> ready_replicas(const json::object& service) {
  std::vector<json::object> out;
  const auto* r = service.if_contains("replicas");
  if (r == nullptr || !r->is_array()) return out;
  for (const auto& v : r->as_array())
    if (v.is_object() && field(v.as_object(), "state") == "ready") out.push_back(v.as_object());
  return out;
}

std::string golden_completion_body(bool stream) {
  json::object o{
      {"model", "stories"}, {"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 48}};
  if (stream) {
    o["stream"] = true;
    o["stream_options"] = json::object{{"include_usage", true}};
  }
  return json::serialize(o);
}

const std::string& golden_text() {
  static const std::string text = [] {
    std::ifstream in(scn::testing::shared_path("golden/stories260K-prompts.json"));
    std::stringstream ss;
    ss << in.rdbuf();
    return std::string(json::parse(ss.str()).as_array().at(0).at("greedy_text").as_string());
  }();
  return text;
}

Streamed stream_post(const std::string& url, const std::string& api_key, const std::string& body) {
  Streamed s;
  http::SseDecoder decoder;
  auto r = http::request_stream(
      "POST", url, body, {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + api_key}},
      [&](std::string_view data) {
        decoder.feed(data, [&](std::string_view event) { s.events.emplace_back(event); });
        return true;
      });
  if (!r.is_ok()) {
    s.error = r.status().to_string();
    return s;
  }
  s.status = r->status;
  return s;
}

}  // namespace scn::e2e
