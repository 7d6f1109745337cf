// /api/v1 limits of tenants and keys, and key scopes, over HTTP.
#include "broker/limits/limits_api.h"

#include <doctest/doctest.h>

#include <map>

#include "broker/accounts_api_test_fixture.h"
#include "broker/gateway/gateway_test_fixture.h"

namespace scn::broker::limits {
namespace {

using broker::testing::AccountsServer;
using broker::testing::Creds;
using broker::testing::Reply;
using broker::testing::World;

TEST_CASE("limits API: tenant limits are set by admins, read by the tenant") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  [[maybe_unused]] const auto [root, alice, bob, opx, opy] = log_in_all(*s);
  const std::string path = "/api/v1/tenants/" + w.acme.id + "/limits";

  Reply initial = s->call("GET", path, "", alice);
  REQUIRE_MESSAGE(initial.status == 200, initial.body);
  CHECK(initial.obj().at("requests_per_minute").is_null());
  CHECK(initial.obj().at("max_replicas").as_int64() == 4);
  CHECK(initial.obj().at("max_gpus").is_null());
  CHECK(initial.obj().at("monthly_tokens_used").as_int64() == 0);

  Reply put = s->call("PUT", path,
                      R"({"requests_per_minute":600,"tokens_per_minute":100000,"max_concurrent_requests":8,)"
                      R"("monthly_token_budget":5000000,"max_replicas":6,"max_gpus":2})",
                      root);
  REQUIRE_MESSAGE(put.status == 200, put.body);
  CHECK(put.obj().at("requests_per_minute").as_int64() == 600);
  CHECK(put.obj().at("max_gpus").as_int64() == 2);
  CHECK(s->count("SELECT max_replicas FROM tenants WHERE name = 'acme'") == 6);
  CHECK(s->count("SELECT quota_gpus FROM tenants WHERE name = 'acme'") == 2);
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'tenant.limits'") == 1);

  // Absent fields stay, null clears.
  Reply partial = s->call("PUT", path, R"({"tokens_per_minute":null})", root);
  REQUIRE(partial.status == 200);
  CHECK(partial.obj().at("tokens_per_minute").is_null());
  CHECK(partial.obj().at("requests_per_minute").as_int64() == 600);
  CHECK(s->call("GET", path, "", alice).obj().at("max_concurrent_requests").as_int64() == 8);

  struct Case {
    const char* body;
    const Creds* who;
    int status;
  };
  const Case cases[] = {
      {R"({"requests_per_minute":1})", &alice, 403},  // members may not
      {R"({"requests_per_minute":1})", &opx, 403},
      {R"({"requests_per_minute":0})", &root, 422},
      {R"({"requests_per_minute":"many"})", &root, 400},
      {R"({"rpm":1})", &root, 400},
      {R"([1])", &root, 400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    CHECK(s->call("PUT", path, c.body, *c.who).status == c.status);
  }
  CHECK(s->call("GET", path, "", bob).status == 404);  // another tenant's
  CHECK(s->call("GET", path, "", opx).status == 403);
  CHECK(s->call("GET", "/api/v1/tenants/not-a-uuid/limits", "", root).status == 404);
  CHECK(s->call("PUT", "/api/v1/tenants/00000000-0000-0000-0000-000000000000/limits", "{}", root).status == 404);
  CHECK(s->call("GET", path).status == 401);
}

TEST_CASE("limits API: keys get limits and scopes at creation and by PATCH") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  [[maybe_unused]] const auto [root, alice, bob, opx, opy] = log_in_all(*s);
  const std::string stories = broker::testing::add_service(s->pg(), w.acme.id, "stories");
  broker::testing::add_service(s->pg(), w.acme.id, "other");
  broker::testing::add_service(s->pg(), w.beta.id, "betas");
  REQUIRE(s->call("PUT", "/api/v1/tenants/" + w.acme.id + "/limits", R"({"requests_per_minute":100})", root)
              .status == 200);

  Reply created = s->call("POST", "/api/v1/api-keys",
                          R"({"name":"ci","limits":{"requests_per_minute":10,"max_concurrent_requests":2},)"
                          R"("services":["stories"]})",
                          alice);
  REQUIRE_MESSAGE(created.status == 201, created.body);
  const std::string id(created.obj().at("id").as_string());
  CHECK(created.obj().at("limits").at("requests_per_minute").as_int64() == 10);
  CHECK(created.obj().at("services").as_array().size() == 1);
  CHECK(created.obj().at("services").at(0).at("id").as_string() == stories);
  CHECK(created.obj().at("services").at(0).at("name").as_string() == "stories");
  CHECK(!created.obj().at("key").as_string().empty());

  Reply plain = s->call("POST", "/api/v1/api-keys", R"({"name":"plain"})", alice);
  REQUIRE(plain.status == 201);
  CHECK(plain.obj().at("services").is_null());
  CHECK(plain.obj().at("limits").at("requests_per_minute").is_null());

  // A member may not give a key more than the tenant has; an admin may.
  Reply over = s->call("PATCH", "/api/v1/api-keys/" + id, R"({"limits":{"requests_per_minute":101}})", alice);
  CHECK(over.status == 422);
  Reply over_at_create =
      s->call("POST", "/api/v1/api-keys", R"({"name":"big","limits":{"requests_per_minute":500}})", alice);
  CHECK(over_at_create.status == 422);
  CHECK(s->count("SELECT count(*) FROM api_keys WHERE name = 'big' AND revoked_at IS NULL") == 0);
  CHECK(s->call("PATCH", "/api/v1/api-keys/" + id, R"({"limits":{"requests_per_minute":101}})", root).status ==
        200);

  Reply patched = s->call("PATCH", "/api/v1/api-keys/" + id,
                          R"({"limits":{"requests_per_minute":null,"tokens_per_minute":5000},"services":null})",
                          alice);
  REQUIRE_MESSAGE(patched.status == 200, patched.body);
  CHECK(patched.obj().at("limits").at("requests_per_minute").is_null());
  CHECK(patched.obj().at("limits").at("tokens_per_minute").as_int64() == 5000);
  CHECK(patched.obj().at("limits").at("max_concurrent_requests").as_int64() == 2);  // unchanged
  CHECK(patched.obj().at("services").is_null());
  CHECK(s->count("SELECT count(*) FROM audit_log WHERE action = 'api_key.update'") == 3);

  Reply got = s->call("GET", "/api/v1/api-keys/" + id, "", alice);
  REQUIRE(got.status == 200);
  CHECK(got.obj().at("name").as_string() == "ci");
  CHECK(got.obj().at("monthly_tokens_used").as_int64() == 0);
  CHECK(!got.obj().contains("key"));  // the secret is never shown again

  struct Case {
    const char* method;
    const char* body;
    const Creds* who;
    int status;
  };
  const Case cases[] = {
      {"PATCH", R"({"services":["betas"]})", &alice, 404},  // another tenant's service
      {"PATCH", R"({"services":["nope"]})", &alice, 404},
      {"PATCH", R"({"services":[]})", &alice, 422},
      {"PATCH", R"({"services":"stories"})", &alice, 400},
      {"PATCH", R"({"limits":5})", &alice, 400},
      {"PATCH", R"({"limits":{"max_replicas":1}})", &alice, 400},
      {"PATCH", R"({"name":"x"})", &alice, 400},
      {"PATCH", R"({"limits":{}})", &bob, 404},  // another tenant's key
      {"GET", "", &bob, 404},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    CHECK(s->call(c.method, "/api/v1/api-keys/" + id, c.body, *c.who).status == c.status);
  }
  CHECK(s->call("POST", "/api/v1/api-keys", R"({"name":"x","services":["nope"]})", alice).status == 404);
  // The key itself may narrow its own scope (it acts as a member of its tenant).
  const std::string secret(created.obj().at("key").as_string());
  Reply by_key = s->call("PATCH", "/api/v1/api-keys/" + id, R"({"services":["other","stories","other"]})",
                         Creds{"", secret});
  REQUIRE_MESSAGE(by_key.status == 200, by_key.body);
  CHECK(by_key.obj().at("services").as_array().size() == 2);
}

TEST_CASE("limits API: the key list shows each key's limits and service scope") {
  auto s = AccountsServer::start();
  if (!s) return;
  World w = World::make(*s);
  [[maybe_unused]] const auto [root, alice, bob, opx, opy] = log_in_all(*s);
  const std::string stories = broker::testing::add_service(s->pg(), w.acme.id, "stories");
  const std::string other = broker::testing::add_service(s->pg(), w.acme.id, "other");
  REQUIRE(s->call("POST", "/api/v1/api-keys",
                  R"({"name":"scoped","limits":{"requests_per_minute":10,"monthly_token_budget":5000},)"
                  R"("services":["stories","other"]})",
                  alice)
              .status == 201);
  REQUIRE(s->call("POST", "/api/v1/api-keys", R"({"name":"open"})", alice).status == 201);
  REQUIRE(s->call("POST", "/api/v1/api-keys", R"({"name":"beta-key"})", bob).status == 201);

  auto by_name = [](const Reply& r) {
    std::map<std::string, boost::json::object> out;
    for (const auto& v : r.obj().at("data").as_array()) out[std::string(v.at("name").as_string())] = v.as_object();
    return out;
  };
  Reply mine = s->call("GET", "/api/v1/api-keys", "", alice);
  REQUIRE_MESSAGE(mine.status == 200, mine.body);
  auto keys = by_name(mine);
  REQUIRE(keys.count("scoped") == 1);
  REQUIRE(keys.count("open") == 1);
  CHECK(keys.count("beta-key") == 0);
  const auto& scoped = keys["scoped"];
  CHECK(scoped.at("limits").at("requests_per_minute").as_int64() == 10);
  CHECK(scoped.at("limits").at("monthly_token_budget").as_int64() == 5000);
  CHECK(scoped.at("limits").at("tokens_per_minute").is_null());
  CHECK(scoped.at("limits").at("max_concurrent_requests").is_null());
  std::map<std::string, std::string> services;
  for (const auto& v : scoped.at("services").as_array())
    services[std::string(v.at("id").as_string())] = std::string(v.at("name").as_string());
  CHECK(services == std::map<std::string, std::string>{{stories, "stories"}, {other, "other"}});
  CHECK(keys["open"].at("services").is_null());
  CHECK(keys["open"].at("limits").at("requests_per_minute").is_null());
  CHECK(!scoped.contains("key"));

  // An admin sees every tenant's keys with theirs.
  auto all = by_name(s->call("GET", "/api/v1/api-keys", "", root));
  REQUIRE(all.count("beta-key") == 1);
  CHECK(all["beta-key"].at("services").is_null());
  CHECK(all["scoped"].at("services").as_array().size() == 2);
}

}  // namespace
}  // namespace scn::broker::limits
