// POST /api/v1/services with autoscaling and priority, and
// POST /api/v1/services/{id}/autoscale (sql/0003).
#include <doctest/doctest.h>

#include "broker/resources_test_fixture.h"
#include "broker/services_api.h"

namespace scn::broker {
namespace {

using testing::Reply;
using testing::ResourceFixture;
using testing::WakeWatcher;

TEST_CASE("services: autoscaling at creation and through /autoscale; /scale turns it off") {
  ResourceFixture f;
  if (!f.setup()) return;
  WakeWatcher wake(f.redis_url());
  Reply r = f.call("member-a", "POST", "/api/v1/services",
                   R"({"name":"lazy","model":"stories260k","min_replicas":0,"max_replicas":3,)"
                   R"("target_outstanding":2.5,"idle_seconds":60})");
  REQUIRE_MESSAGE(r.status == 201, boost::json::serialize(r.body));
  const std::string id = r.str("id");
  CHECK(r.obj().at("replicas_wanted").as_int64() == 1);  // default max(1, min)
  const auto& a = r.obj().at("autoscale").as_object();
  CHECK(a.at("min_replicas").as_int64() == 0);
  CHECK(a.at("max_replicas").as_int64() == 3);
  CHECK(a.at("target_outstanding").as_double() == 2.5);
  CHECK(a.at("idle_seconds").as_int64() == 60);
  CHECK(r.obj().at("priority").as_int64() == 0);
  CHECK(a.at("target_ttft_ms").is_null());

  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/autoscale",
             R"({"min_replicas":2,"max_replicas":4})");
  REQUIRE_MESSAGE(r.status == 200, boost::json::serialize(r.body));
  CHECK(r.obj().at("replicas_wanted").as_int64() == 2);  // clamped up into [2, 4]
  CHECK(r.obj().at("autoscale").at("min_replicas").as_int64() == 2);
  CHECK(r.obj().at("autoscale").at("target_outstanding").as_double() == 2.5);  // kept
  CHECK(wake.count(id, 2) >= 2);
  CHECK(f.sql1("SELECT count(*) FROM audit_log WHERE action = 'service.autoscale'") == "1");
  CHECK(r.obj().at("autoscale").at("target_ttft_ms").is_null());

  // A latency target (sql/0007): set, kept when absent, removed with null.
  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/autoscale",
             R"({"min_replicas":2,"max_replicas":4,"target_ttft_ms":300})");
  REQUIRE_MESSAGE(r.status == 200, boost::json::serialize(r.body));
  CHECK(r.obj().at("autoscale").at("target_ttft_ms").as_double() == 300);
  CHECK(f.sql1("SELECT target_ttft_ms FROM services WHERE id = '" + id + "'") == "300");
  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/autoscale", R"({"min_replicas":2,"max_replicas":4})");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("autoscale").at("target_ttft_ms").as_double() == 300);
  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/autoscale",
             R"({"min_replicas":2,"max_replicas":4,"target_ttft_ms":null})");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("autoscale").at("target_ttft_ms").is_null());
  CHECK(f.sql1("SELECT target_ttft_ms IS NULL FROM services WHERE id = '" + id + "'") == "t");

  r = f.call("member-a", "POST", "/api/v1/services/" + id + "/scale", R"({"replicas":1})");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("autoscale").is_null());
  CHECK(r.obj().at("replicas_wanted").as_int64() == 1);

  // Another tenant's member: 404; an operator: 403.
  CHECK(f.call("member-b", "POST", "/api/v1/services/" + id + "/autoscale",
               R"({"min_replicas":0,"max_replicas":1})").status == 404);
  CHECK(f.call("op-x", "POST", "/api/v1/services/" + id + "/autoscale",
               R"({"min_replicas":0,"max_replicas":1})").status == 403);

  // A latency target at creation.
  Reply with_ttft = f.call("member-a", "POST", "/api/v1/services",
                           R"({"name":"quick","model":"stories260k","min_replicas":1,"max_replicas":2,)"
                           R"("target_ttft_ms":150})");
  REQUIRE_MESSAGE(with_ttft.status == 201, boost::json::serialize(with_ttft.body));
  CHECK(with_ttft.obj().at("autoscale").at("target_ttft_ms").as_double() == 150);
  CHECK(with_ttft.obj().at("autoscale").at("target_tokens_per_second").is_null());

  // A throughput target per replica (sql/0011): at creation, kept when
  // absent, removed with null.
  Reply with_tokens = f.call("member-a", "POST", "/api/v1/services",
                             R"({"name":"busy","model":"stories260k","min_replicas":1,"max_replicas":2,)"
                             R"("target_tokens_per_second":80})");
  REQUIRE_MESSAGE(with_tokens.status == 201, boost::json::serialize(with_tokens.body));
  const std::string busy = with_tokens.str("id");
  CHECK(with_tokens.obj().at("autoscale").at("target_tokens_per_second").as_double() == 80);
  r = f.call("member-a", "POST", "/api/v1/services/" + busy + "/autoscale", R"({"min_replicas":1,"max_replicas":2})");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("autoscale").at("target_tokens_per_second").as_double() == 80);
  r = f.call("member-a", "POST", "/api/v1/services/" + busy + "/autoscale",
             R"({"min_replicas":1,"max_replicas":2,"target_tokens_per_second":120.5})");
  REQUIRE(r.status == 200);
  CHECK(f.sql1("SELECT target_tokens_per_second FROM services WHERE id = '" + busy + "'") == "120.5");
  r = f.call("member-a", "POST", "/api/v1/services/" + busy + "/autoscale",
             R"({"min_replicas":1,"max_replicas":2,"target_tokens_per_second":null})");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("autoscale").at("target_tokens_per_second").is_null());
}

TEST_CASE("services: autoscale and priority validation") {
  ResourceFixture f;
  if (!f.setup()) return;
  Reply r = f.call("member-a", "POST", "/api/v1/services", R"({"name":"s","model":"stories260k"})");
  REQUIRE(r.status == 201);
  const std::string id = r.str("id");
  struct Case {
    const char* body;
    int status;
  };
  const Case cases[] = {
      {R"({"min_replicas":1})", 400},
      {R"({"max_replicas":2})", 400},
      {R"({"min_replicas":"1","max_replicas":2})", 400},
      {R"({"min_replicas":1,"max_replicas":2,"extra":1})", 400},
      {R"({"min_replicas":-1,"max_replicas":2})", 422},
      {R"({"min_replicas":3,"max_replicas":2})", 422},
      {R"({"min_replicas":0,"max_replicas":0})", 422},
      {R"({"min_replicas":0,"max_replicas":5})", 422},  // tenant A's maximum is 4
      {R"({"min_replicas":0,"max_replicas":2,"target_outstanding":0})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"idle_seconds":0})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"idle_seconds":86400})", 200},
      {R"({"target_ttft_ms":200})", 400},
      {R"({"min_replicas":0,"max_replicas":2,"target_ttft_ms":"200"})", 400},
      {R"({"min_replicas":0,"max_replicas":2,"target_ttft_ms":0})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"target_ttft_ms":-5})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"target_ttft_ms":600001})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"target_ttft_ms":250.5})", 200},
      {R"({"min_replicas":0,"max_replicas":2,"target_ttft_ms":null})", 200},
      {R"({"target_tokens_per_second":100})", 400},
      {R"({"min_replicas":0,"max_replicas":2,"target_tokens_per_second":"100"})", 400},
      {R"({"min_replicas":0,"max_replicas":2,"target_tokens_per_second":0})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"target_tokens_per_second":-1})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"target_tokens_per_second":1000001})", 422},
      {R"({"min_replicas":0,"max_replicas":2,"target_tokens_per_second":62.5})", 200},
      {R"({"min_replicas":0,"max_replicas":2,"target_tokens_per_second":null})", 200},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    CHECK(f.call("member-a", "POST", "/api/v1/services/" + id + "/autoscale", c.body).status == c.status);
  }
  // At creation: target without bounds 400; priority above 0 only for admins; range 422.
  CHECK(f.call("member-a", "POST", "/api/v1/services",
               R"({"name":"t","model":"stories260k","target_outstanding":2})").status == 400);
  CHECK(f.call("member-a", "POST", "/api/v1/services",
               R"({"name":"t","model":"stories260k","priority":5})").status == 403);
  CHECK(f.call("member-a", "POST", "/api/v1/services",
               R"({"name":"t","model":"stories260k","priority":-2000})").status == 422);
  r = f.call("member-a", "POST", "/api/v1/services", R"({"name":"t","model":"stories260k","priority":-5})");
  CHECK(r.status == 201);
  CHECK(r.obj().at("priority").as_int64() == -5);
  r = f.call("admin", "POST", "/api/v1/services",
             R"({"name":"u","model":"stories260k","priority":50,"tenant_id":")" + f.tenant_b + R"("})");
  CHECK(r.status == 201);
  CHECK(r.obj().at("priority").as_int64() == 50);
}

}  // namespace
}  // namespace scn::broker
