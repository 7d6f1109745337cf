#include "broker/services_api.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "broker/resources_test_fixture.h"

namespace scn::broker {
namespace {

using testing::Reply;
using testing::ResourceFixture;
using testing::WakeWatcher;

std::string create_body(const std::string& name, int replicas = 1) {
  return R"({"name":")" + name + R"(","model":"stories260k","replicas":)" +
         std::to_string(replicas) + "}";
}

TEST_CASE("services: create, list, get, scale, stop, delete") {
  ResourceFixture f;
  if (!f.setup()) return;
  WakeWatcher wake(f.redis_url());

  Reply r = f.call("member-a", "POST", "/api/v1/services",
                   R"({"name":"chat","model":"stories260k","replicas":2,)"
                   R"("placement":{"device_kind":"any","regions":["beijing"],"cpu_threads":2}})");
  REQUIRE_MESSAGE(r.status == 201, r.status, " ", boost::json::serialize(r.body));
  const std::string id = r.str("id");
  CHECK(r.str("tenant_id") == f.tenant_a);
  CHECK(r.str("name") == "chat");
  CHECK(r.str("model") == "stories260k");
  CHECK(r.str("quantization") == "F32");
  CHECK(r.str("status") == "pending");
  CHECK(r.obj().at("replicas_wanted").as_int64() == 2);
  CHECK(r.obj().at("replicas_ready").as_int64() == 0);
  CHECK(r.obj().at("context_length").as_int64() == 2048);  // min(model's 2048, 4096)
  CHECK(r.obj().at("placement").at("regions").as_array().size() == 1);
  CHECK(r.obj().at("placement").at("cpu_threads").as_int64() == 2);
  CHECK(r.str("endpoint") == "/v1/chat/completions");
  CHECK(wake.count(id) == 1);
  CHECK(f.sql1("SELECT count(*) FROM audit_log WHERE action = 'service.create' AND target_id = '" +
               id + "' AND tenant_id = '" + f.tenant_a + "'") == "1");
  CHECK(f.sql1("SELECT count(*) FROM replicas") == "0");  // the scheduler's job

  // Lists: own tenant for members, everything (or one tenant) for admins.
  CHECK(f.call("member-a", "GET", "/api/v1/services").obj().at("data").as_array().size() == 1);
  CHECK(f.call("member-b", "GET", "/api/v1/services").obj().at("data").as_array().empty());
  CHECK(f.call("admin", "GET", "/api/v1/services").obj().at("data").as_array().size() == 1);
  CHECK(f.call("admin", "GET", "/api/v1/services?tenant_id=" + f.tenant_b)
            .obj().at("data").as_array().empty());

  // Replicas as the scheduler writes them: one pending, one ready, one long stopped.
  f.sql1("INSERT INTO replicas (service_id, state, reason) VALUES ('" + id +
         "', 'pending', 'no node fits: memory rejected 2') RETURNING id");
  f.sql1("INSERT INTO replicas (service_id, node_id, device_id, device_indices, port, state, "
         "reason, scheduled_at, ready_at) SELECT '" + id + "', n.id, d.id, '{0}', 21001, "
         "'ready', 'best score', now(), now() FROM nodes n JOIN devices d ON d.node_id = n.id "
         "WHERE n.id = '" + f.node_x + "' AND d.kind = 'gpu' RETURNING id");
  f.sql1("INSERT INTO replicas (service_id, node_id, state, stopped_at, updated_at) VALUES ('" +
         id + "', '" + f.node_x + "', 'stopped', now(), now() - interval '1 hour') RETURNING id");
  r = f.call("member-a", "GET", "/api/v1/services/" + id);
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("replicas_ready").as_int64() == 1);
  const auto& replicas = r.obj().at("replicas").as_array();
  REQUIRE(replicas.size() == 2);
  CHECK(replicas[0].at("state").as_string() == "pending");
  CHECK(replicas[0].at("reason").as_string() == "no node fits: memory rejected 2");
  CHECK(replicas[0].at("node_id").is_null());
  CHECK(replicas[1].at("state").as_string() == "ready");
  CHECK(replicas[1].at("node_name").as_string() == "node-x1");
  CHECK(replicas[1].at("center_name").as_string() == "center-x");
  CHECK(replicas[1].at("device").at("kind").as_string() == "gpu");
  CHECK(replicas[1].at("device").at("model").as_string() == "H200");
  CHECK(replicas[1].at("device").at("indices").as_array().size() == 1);
  CHECK(replicas[1].at("port").as_int64() == 21001);

  // Scale within the tenant's maximum (4); beyond it 422.
  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/scale", R"({"replicas":4})");
  CHECK(r.status == 200);
  CHECK(r.obj().at("replicas_wanted").as_int64() == 4);
  CHECK(r.str("status") == "pending");
  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/scale", R"({"replicas":5})");
  CHECK(r.status == 422);
  CHECK(r.error_param() == "replicas");
  CHECK(f.call("member-a", "POST", "/api/v1/services/" + id + "/scale", R"({"replicas":"2"})")
            .status == 400);
  CHECK(f.call("member-a", "POST", "/api/v1/services/" + id + "/scale", "{}").status == 400);
  CHECK(f.call("member-a", "POST", "/api/v1/services/" + id + "/scale", "{bad").status == 400);

  // Stop, then scale up again: pending.
  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/stop");
  CHECK(r.status == 200);
  CHECK(r.str("status") == "stopped");
  CHECK(r.obj().at("replicas_wanted").as_int64() == 0);
  r = f.call("admin", "POST", "/api/v1/services/" + id + "/scale", R"({"replicas":1})");
  CHECK(r.status == 200);
  CHECK(r.str("status") == "pending");
  CHECK(r.obj().at("replicas_wanted").as_int64() == 1);
  CHECK(wake.count(id, 4) >= 4);  // create, scale, stop, scale

  // Delete: gone, and the name is free again.
  CHECK(f.call("member-a", "DELETE", "/api/v1/services/" + id).status == 204);
  CHECK(f.sql1("SELECT status || ' ' || (deleted_at IS NOT NULL) FROM services WHERE id = '" + id +
               "'") == "deleted true");
  CHECK(f.call("member-a", "GET", "/api/v1/services/" + id).status == 404);
  CHECK(f.call("member-a", "DELETE", "/api/v1/services/" + id).status == 404);
  CHECK(f.call("member-a", "GET", "/api/v1/services").obj().at("data").as_array().empty());
  CHECK(f.call("member-a", "POST", "/api/v1/services", create_body("chat")).status == 201);
  CHECK(f.sql1("SELECT count(*) FROM audit_log WHERE target_id = '" + id + "'") == "5");
}

TEST_CASE("services: bad input is refused and nothing is written") {
  ResourceFixture f;
  if (!f.setup()) return;
  struct Case {
    const char* body;
    int status;
    const char* param;  // "" when the answer names none
  };
  const Case cases[] = {
      {"{bad json", 400, ""},
      {"[1,2]", 400, ""},
      {R"({"model":"stories260k"})", 400, "name"},
      {R"({"name":123,"model":"stories260k"})", 400, "name"},
      {R"({"name":"-x","model":"stories260k"})", 400, "name"},
      {R"({"name":"x y","model":"stories260k"})", 400, "name"},
      {R"({"name":"a"})", 400, "model"},
      {R"({"name":"a","model":"stories260k","replicas":"2"})", 400, "replicas"},
      {R"({"name":"a","model":"stories260k","replicas":1.5})", 400, "replicas"},
      {R"({"name":"a","model":"stories260k","colour":"red"})", 400, "colour"},
      {R"({"name":"a","model":"stories260k","placement":[]})", 400, "placement"},
      {R"({"name":"a","model":"stories260k","placement":{"device_kind":"tpu"}})", 400,
       "placement.device_kind"},
      {R"({"name":"a","model":"stories260k","placement":{"regions":[1]}})", 400,
       "placement.regions"},
      {R"({"name":"a","model":"stories260k","placement":{"device_models":"H200"}})", 400,
       "placement.device_models"},
      {R"({"name":"a","model":"stories260k","placement":{"price_cap_per_hour":-1}})", 400,
       "placement.price_cap_per_hour"},
      {R"({"name":"a","model":"stories260k","placement":{"cpu_threads":0}})", 400,
       "placement.cpu_threads"},
      {R"({"name":"a","model":"stories260k","placement":{"cpu_threads":257}})", 400,
       "placement.cpu_threads"},
      {R"({"name":"a","model":"stories260k","placement":{"gpus":1}})", 400, "placement.gpus"},
      {R"({"name":"a","model":"stories260k","quantization":"Q9_X"})", 400, "quantization"},
      {R"({"name":"a","model":"stories260k","replicas":-1})", 422, "replicas"},
      {R"({"name":"a","model":"stories260k","replicas":5})", 422, "replicas"},
      {R"({"name":"a","model":"stories260k","context_length":0})", 422, "context_length"},
      {R"({"name":"a","model":"stories260k","context_length":2049})", 422, "context_length"},
      {R"({"name":"a","model":"no-such-model"})", 404, "model"},
      {R"({"name":"a","model":"stories260k","quantization":"Q4_K_M"})", 404, "quantization"},
      {R"({"name":"a","model":"deepseek-r1-distill-qwen-7b"})", 409, ""},
      {R"({"name":"a","model":"deepseek-r1-distill-qwen-7b","quantization":"Q8_0"})", 409, ""},
      {R"({"name":"a","model":"stories260k","tenant_id":"x"})", 403, "tenant_id"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    Reply r = f.call("member-a", "POST", "/api/v1/services", c.body);
    CHECK(r.status == c.status);
    CHECK(r.error_param() == c.param);
    if (c.status == 409) {
      CHECK(r.error_type() == "conflict_error");
      CHECK(r.obj().at("error").at("message").as_string().find("weights not present") !=
            std::string::npos);
    }
  }
  CHECK(f.sql1("SELECT count(*) FROM services") == "0");
  CHECK(f.sql1("SELECT count(*) FROM audit_log") == "0");

  // Name taken; the tenant's quota counts its other services.
  CHECK(f.call("member-a", "POST", "/api/v1/services", create_body("one", 2)).status == 201);
  Reply r = f.call("member-a", "POST", "/api/v1/services", create_body("one", 1));
  CHECK(r.status == 409);
  CHECK(r.error_param() == "name");
  CHECK(f.call("member-b", "POST", "/api/v1/services", create_body("one", 1)).status == 201);
  CHECK(f.call("member-a", "POST", "/api/v1/services", create_body("two", 2)).status == 201);
  CHECK(f.call("member-a", "POST", "/api/v1/services", create_body("three", 1)).status == 422);
  CHECK(f.call("member-a", "POST", "/api/v1/services", create_body("zero", 0)).status == 201);

  // Who may create: admins name the tenant, operators may not.
  CHECK(f.call("admin", "POST", "/api/v1/services", create_body("adm")).status == 400);
  CHECK(f.call("admin", "POST", "/api/v1/services",
               R"({"name":"adm","model":"stories260k","tenant_id":"nope"})")
            .status == 400);
  CHECK(f.call("admin", "POST", "/api/v1/services",
               R"({"name":"adm","model":"stories260k","tenant_id":"00000000-0000-0000-0000-000000000000"})")
            .status == 404);
  r = f.call("admin", "POST", "/api/v1/services",
             R"({"name":"adm","model":"stories260k","tenant_id":")" + f.tenant_b + R"("})");
  CHECK(r.status == 201);
  CHECK(r.str("tenant_id") == f.tenant_b);
  CHECK(f.call("member-a", "POST", "/api/v1/services",
               R"({"name":"own","model":"stories260k","replicas":0,"tenant_id":")" + f.tenant_a +
                   R"("})")
            .status == 201);
  CHECK(f.call("op-x", "POST", "/api/v1/services", create_body("op")).status == 403);
  CHECK(f.call("nobody", "POST", "/api/v1/services", create_body("anon")).status == 401);
  CHECK(f.call("nobody", "GET", "/api/v1/services").status == 401);
}

TEST_CASE("services: tenant B can neither see nor touch tenant A's services or usage") {
  ResourceFixture f;
  if (!f.setup()) return;
  Reply created = f.call("member-a", "POST", "/api/v1/services", create_body("secret", 2));
  REQUIRE(created.status == 201);
  const std::string id = created.str("id");
  f.sql1("INSERT INTO usage_records (tenant_id, service_id, period_start, period_end, requests, "
         "prompt_tokens, completion_tokens) VALUES ('" + f.tenant_a + "', '" + id +
         "', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 3, 30, 60), ('" + f.tenant_a +
         "', '" + id + "', '2026-02-01T00:00:00Z', '2026-02-01T00:01:00Z', 1, 5, 7) RETURNING id");

  CHECK(f.call("member-b", "GET", "/api/v1/services").obj().at("data").as_array().empty());
  CHECK(f.call("member-b", "GET", "/api/v1/services?tenant_id=" + f.tenant_a).status == 403);
  CHECK(f.call("member-b", "GET", "/api/v1/services/" + id).status == 404);
  CHECK(f.call("member-b", "POST", "/api/v1/services/" + id + "/scale", R"({"replicas":1})")
            .status == 404);
  CHECK(f.call("member-b", "POST", "/api/v1/services/" + id + "/stop").status == 404);
  CHECK(f.call("member-b", "DELETE", "/api/v1/services/" + id).status == 404);
  CHECK(f.call("member-b", "GET", "/api/v1/usage?service_id=" + id).status == 404);
  CHECK(f.call("member-b", "GET", "/api/v1/usage?tenant_id=" + f.tenant_a).status == 403);
  CHECK(f.call("member-b", "GET", "/api/v1/usage").obj().at("data").as_array().empty());
  // Malformed and unknown ids look the same as foreign ones.
  CHECK(f.call("member-a", "GET", "/api/v1/services/not-a-uuid").status == 404);
  CHECK(f.call("member-a", "GET", "/api/v1/services/00000000-0000-0000-0000-000000000000")
            .status == 404);
  // Operators have no business with services.
  CHECK(f.call("op-x", "GET", "/api/v1/services/" + id).status == 403);
  CHECK(f.call("op-x", "GET", "/api/v1/services").status == 403);
  CHECK(f.call("op-x", "GET", "/api/v1/usage").status == 403);
  // Nothing changed.
  Reply r = f.call("member-a", "GET", "/api/v1/services/" + id);
  CHECK(r.status == 200);
  CHECK(r.obj().at("replicas_wanted").as_int64() == 2);
  CHECK(r.str("status") == "pending");

  // A's usage, for A and the admin; periods filter by start.
  for (const char* who : {"member-a", "admin"}) {
    r = f.call(who, "GET", "/api/v1/usage");
    REQUIRE(r.status == 200);
    const auto& data = r.obj().at("data").as_array();
    REQUIRE(data.size() == 1);
    CHECK(data[0].at("service_name").as_string() == "secret");
    CHECK(data[0].at("tenant_id").as_string() == f.tenant_a);
    CHECK(data[0].at("requests").as_int64() == 4);
    CHECK(data[0].at("prompt_tokens").as_int64() == 35);
    CHECK(data[0].at("completion_tokens").as_int64() == 67);
  }
  r = f.call("member-a", "GET", "/api/v1/usage?service_id=" + id + "&from=2026-01-15T00:00:00Z");
  REQUIRE(r.status == 200);
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  CHECK(r.obj().at("data").as_array()[0].at("requests").as_int64() == 1);
  r = f.call("member-a", "GET", "/api/v1/usage?to=2026-01-15");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("data").as_array()[0].at("requests").as_int64() == 3);
  CHECK(f.call("admin", "GET", "/api/v1/usage?tenant_id=" + f.tenant_b)
            .obj().at("data").as_array().empty());
  r = f.call("member-a", "GET", "/api/v1/usage?from=yesterday");
  CHECK(r.status == 400);
  CHECK(r.error_param() == "from");
}

TEST_CASE("services: concurrent launches cannot overrun the tenant's maximum") {
  ResourceFixture f;
  if (!f.setup()) return;
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto r = http::request("POST", f.base_url() + "/api/v1/services",
                             create_body("c" + std::to_string(i), 2),
                             {{"X-Test-Principal", "member-a"}});
      if (r.is_ok() && r->status == 201) ++created;
      if (r.is_ok() && r->status == 422) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(created.load() == 2);  // 2 x 2 replicas = tenant A's maximum of 4
  CHECK(refused.load() == 2);
  CHECK(f.sql1("SELECT sum(replicas_wanted) FROM services") == "4");
}

}  // namespace
}  // namespace scn::broker
