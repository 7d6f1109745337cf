// The console's endpoints over real HTTP (ResourceFixture): usage by day and
// as CSV, the pool's history, the public config.
#include "broker/console_api.h"

#include <doctest/doctest.h>

#include <string>

#include "broker/resources_test_fixture.h"

namespace scn::broker {
namespace {

using testing::ResourceFixture;
using testing::Reply;

std::string launch(ResourceFixture& f, const std::string& who, const std::string& name) {
  Reply r = f.call(who, "POST", "/api/v1/services",
                   R"({"name":")" + name + R"(","model":"stories260k","replicas":1})");
  REQUIRE(r.status == 201);
  return r.str("id");
}

void add_usage(ResourceFixture& f, const std::string& tenant, const std::string& service,
               const std::string& start, int requests, int prompt, int completion) {
  f.sql1("INSERT INTO usage_records (tenant_id, service_id, period_start, period_end, requests, "
         "prompt_tokens, completion_tokens) VALUES ('" + tenant + "', '" + service + "', " + start +
         ", " + start + " + interval '1 second', " + std::to_string(requests) + ", " +
         std::to_string(prompt) + ", " + std::to_string(completion) + ") RETURNING id");
}

TEST_CASE("console: usage per day and service, and as CSV; members see their tenant only") {
  ResourceFixture f;
  if (!f.setup()) return;
  const std::string a1 = launch(f, "member-a", "alpha");
  const std::string a2 = launch(f, "member-a", "beta");
  const std::string b1 = launch(f, "member-b", "bravo");
  add_usage(f, f.tenant_a, a1, "'2026-03-01T10:00:00Z'::timestamptz", 2, 20, 40);
  add_usage(f, f.tenant_a, a1, "'2026-03-01T23:59:00Z'::timestamptz", 1, 10, 10);
  add_usage(f, f.tenant_a, a1, "'2026-03-02T00:00:01Z'::timestamptz", 5, 50, 50);
  add_usage(f, f.tenant_a, a2, "'2026-03-02T08:00:00Z'::timestamptz", 7, 70, 70);
  add_usage(f, f.tenant_b, b1, "'2026-03-01T12:00:00Z'::timestamptz", 9, 90, 90);

  Reply r = f.call("member-a", "GET", "/api/v1/usage?group_by=day");
  REQUIRE(r.status == 200);
  const auto& rows = r.obj().at("data").as_array();
  REQUIRE(rows.size() == 3);
  struct Want {
    const char* day;
    std::string service;
    std::int64_t requests, prompt, completion;
  };
  const Want want[] = {{"2026-03-01", a1, 3, 30, 50},
                       {"2026-03-02", a1, 5, 50, 50},
                       {"2026-03-02", a2, 7, 70, 70}};
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(rows[i].at("day").as_string() == want[i].day);
    CHECK(rows[i].at("service_id").as_string() == want[i].service);
    CHECK(rows[i].at("tenant_id").as_string() == f.tenant_a);
    CHECK(rows[i].at("requests").as_int64() == want[i].requests);
    CHECK(rows[i].at("prompt_tokens").as_int64() == want[i].prompt);
    CHECK(rows[i].at("completion_tokens").as_int64() == want[i].completion);
  }
  // Filters still apply; the default grouping has no "day".
  r = f.call("member-a", "GET", "/api/v1/usage?group_by=day&from=2026-03-02&service_id=" + a1);
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  CHECK(r.obj().at("data").as_array()[0].at("requests").as_int64() == 5);
  r = f.call("member-a", "GET", "/api/v1/usage?group_by=service");
  REQUIRE(r.obj().at("data").as_array().size() == 2);
  CHECK(!r.obj().at("data").as_array()[0].as_object().contains("day"));
  // The admin sees both tenants; B's member only B.
  CHECK(f.call("admin", "GET", "/api/v1/usage?group_by=day").obj().at("data").as_array().size() == 4);
  r = f.call("member-b", "GET", "/api/v1/usage?group_by=day");
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  CHECK(r.obj().at("data").as_array()[0].at("service_id").as_string() == b1);
  CHECK(f.call("member-b", "GET", "/api/v1/usage?group_by=day&tenant_id=" + f.tenant_a).status == 403);
  CHECK(f.call("member-b", "GET", "/api/v1/usage?format=csv&service_id=" + a1).status == 404);
  CHECK(f.call("op-x", "GET", "/api/v1/usage?format=csv").status == 403);
  CHECK(f.call("member-a", "GET", "/api/v1/usage?group_by=week").status == 400);
  CHECK(f.call("member-a", "GET", "/api/v1/usage?format=xml").status == 400);

  // CSV: a download with a header line (service names need no quoting: they
  // are [a-z0-9-]).
  auto csv = http::request("GET", f.base_url() + "/api/v1/usage?group_by=day&format=csv", "",
                           {{"X-Test-Principal", "member-a"}});
  REQUIRE(csv.is_ok());
  CHECK(csv->status == 200);
  CHECK(csv->headers.get_or("Content-Type", "") == "text/csv; charset=utf-8");
  CHECK(csv->headers.get_or("Content-Disposition", "") == "attachment; filename=\"usage.csv\"");
  CHECK(csv->body ==
        "day,tenant_id,service_id,service_name,requests,prompt_tokens,cached_prompt_tokens,completion_tokens\r\n"
        "2026-03-01," + f.tenant_a + "," + a1 + ",alpha,3,30,0,50\r\n"
        "2026-03-02," + f.tenant_a + "," + a1 + ",alpha,5,50,0,50\r\n"
        "2026-03-02," + f.tenant_a + "," + a2 + ",beta,7,70,0,70\r\n");
  csv = http::request("GET", f.base_url() + "/api/v1/usage?format=csv", "",
                      {{"X-Test-Principal", "member-b"}});
  REQUIRE(csv.is_ok());
  CHECK(csv->body == "tenant_id,service_id,service_name,requests,prompt_tokens,cached_prompt_tokens,"
                     "completion_tokens\r\n" +
                         f.tenant_b + "," + b1 + ",bravo,9,90,0,90\r\n");
}

TEST_CASE("console: usage per API key, model and center, with cached prompt tokens") {
  ResourceFixture f;
  if (!f.setup()) return;
  const std::string a1 = launch(f, "member-a", "alpha");
  const std::string b1 = launch(f, "member-b", "bravo");
  const std::string k1 = f.sql1("INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES ('" + f.tenant_a +
                                "', 'ci', 'scn-key-', decode(repeat('ab', 32), 'hex')) RETURNING id");
  const std::string k2 = f.sql1("INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES ('" + f.tenant_a +
                                "', 'web', 'scn-key-', decode(repeat('cd', 32), 'hex')) RETURNING id");
  const std::string east = f.sql1("INSERT INTO centers (name, region) VALUES ('east', 'r1') RETURNING id");
  const std::string west = f.sql1("INSERT INTO centers (name, region) VALUES ('west', 'r2') RETURNING id");
  struct Rec {
    std::string tenant, service, key, model, center;
    int requests, prompt, cached, completion;
  };
  const Rec recs[] = {
      {f.tenant_a, a1, k1, "m1", east, 2, 20, 5, 40},  {f.tenant_a, a1, k1, "m1", east, 1, 10, 10, 10},
      {f.tenant_a, a1, k2, "m1", west, 3, 30, 0, 30},  {f.tenant_a, a1, k2, "m2", east, 4, 40, 8, 4},
      {f.tenant_a, a1, "", "", "", 1, 1, 0, 1},  // written before keys, models and centers were recorded
      {f.tenant_b, b1, "", "m1", east, 9, 90, 9, 90},
  };
  auto lit = [](const std::string& v, const char* type) {
    return v.empty() ? std::string("NULL") : "'" + v + "'::" + type;
  };
  for (const auto& r : recs) {
    f.sql1("INSERT INTO usage_records (tenant_id, service_id, api_key_id, model, center_id, period_start, "
           "period_end, requests, prompt_tokens, cached_prompt_tokens, completion_tokens) VALUES ('" + r.tenant +
           "', '" + r.service + "', " + lit(r.key, "uuid") + ", " + lit(r.model, "text") + ", " +
           lit(r.center, "uuid") + ", now(), now() + interval '1 second', " + std::to_string(r.requests) + ", " +
           std::to_string(r.prompt) + ", " + std::to_string(r.cached) + ", " + std::to_string(r.completion) +
           ") RETURNING id");
  }

  // Per service: cached prompt tokens summed as the others.
  Reply r = f.call("member-a", "GET", "/api/v1/usage");
  REQUIRE(r.status == 200);
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  const auto& total = r.obj().at("data").as_array()[0];
  CHECK(total.at("requests").as_int64() == 11);
  CHECK(total.at("prompt_tokens").as_int64() == 101);
  CHECK(total.at("cached_prompt_tokens").as_int64() == 23);
  CHECK(total.at("completion_tokens").as_int64() == 85);
  CHECK(!total.as_object().contains("api_key_id"));

  // Per key, model and center (rows of unknown ones have nulls, first).
  r = f.call("member-a", "GET", "/api/v1/usage?group_by=service,key,model,center");
  REQUIRE(r.status == 200);
  const auto& rows = r.obj().at("data").as_array();
  REQUIRE(rows.size() == 4);
  auto null_or = [](const boost::json::value& v) { return v.is_null() ? std::string("-") : std::string(v.as_string()); };
  struct Want {
    std::string key, key_name, model, center, center_name;
    std::int64_t requests, prompt, cached, completion;
  };
  const Want want[] = {{"-", "-", "-", "-", "-", 1, 1, 0, 1},
                       {k1, "ci", "m1", east, "east", 3, 30, 15, 50},
                       {k2, "web", "m1", west, "west", 3, 30, 0, 30},
                       {k2, "web", "m2", east, "east", 4, 40, 8, 4}};
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(rows[i].at("service_id").as_string() == a1);
    CHECK(null_or(rows[i].at("api_key_id")) == want[i].key);
    CHECK(null_or(rows[i].at("api_key_name")) == want[i].key_name);
    CHECK(null_or(rows[i].at("model")) == want[i].model);
    CHECK(null_or(rows[i].at("center_id")) == want[i].center);
    CHECK(null_or(rows[i].at("center_name")) == want[i].center_name);
    CHECK(rows[i].at("requests").as_int64() == want[i].requests);
    CHECK(rows[i].at("prompt_tokens").as_int64() == want[i].prompt);
    CHECK(rows[i].at("cached_prompt_tokens").as_int64() == want[i].cached);
    CHECK(rows[i].at("completion_tokens").as_int64() == want[i].completion);
  }

  // One dimension alone, and the filters.
  r = f.call("member-a", "GET", "/api/v1/usage?group_by=model");
  REQUIRE(r.obj().at("data").as_array().size() == 3);  // null, m1, m2
  CHECK(r.obj().at("data").as_array()[1].at("model").as_string() == "m1");
  CHECK(r.obj().at("data").as_array()[1].at("requests").as_int64() == 6);
  CHECK(!r.obj().at("data").as_array()[1].as_object().contains("center_id"));
  r = f.call("member-a", "GET", "/api/v1/usage?group_by=center&api_key_id=" + k2);
  REQUIRE(r.obj().at("data").as_array().size() == 2);
  CHECK(r.obj().at("data").as_array()[0].at("center_name").as_string() == "east");
  CHECK(r.obj().at("data").as_array()[0].at("requests").as_int64() == 4);
  r = f.call("member-a", "GET", "/api/v1/usage?model=m1&center_id=" + east);
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  CHECK(r.obj().at("data").as_array()[0].at("requests").as_int64() == 3);
  // The admin sees B's usage per center too; B's member only B's.
  r = f.call("admin", "GET", "/api/v1/usage?group_by=center&center_id=" + east);
  CHECK(r.obj().at("data").as_array().size() == 2);  // alpha and bravo in east
  r = f.call("member-b", "GET", "/api/v1/usage?group_by=key");
  REQUIRE(r.obj().at("data").as_array().size() == 1);
  CHECK(r.obj().at("data").as_array()[0].at("api_key_id").is_null());
  CHECK(f.call("member-a", "GET", "/api/v1/usage?group_by=key,week").status == 400);
  CHECK(f.call("member-a", "GET", "/api/v1/usage?api_key_id=nope").status == 400);
  CHECK(f.call("member-a", "GET", "/api/v1/usage?center_id=nope").status == 400);

  // CSV with the same columns, in the same order.
  auto csv = http::request("GET", f.base_url() + "/api/v1/usage?group_by=day,key&format=csv&api_key_id=" + k1, "",
                           {{"X-Test-Principal", "member-a"}});
  REQUIRE(csv.is_ok());
  REQUIRE(csv->status == 200);
  const std::string first_line = csv->body.substr(0, csv->body.find("\r\n"));
  CHECK(first_line ==
        "day,tenant_id,service_id,service_name,api_key_id,api_key_name,requests,prompt_tokens,"
        "cached_prompt_tokens,completion_tokens");
  CHECK(csv->body.find("," + f.tenant_a + "," + a1 + ",alpha," + k1 + ",ci,3,30,15,50\r\n") != std::string::npos);
}

TEST_CASE("console: the pool's history per minute and the nodes lost; admins only") {
  ResourceFixture f;
  if (!f.setup()) return;
  const std::string a1 = launch(f, "member-a", "alpha");
  add_usage(f, f.tenant_a, a1, "now()", 3, 30, 60);
  add_usage(f, f.tenant_a, a1, "now()", 1, 5, 5);
  add_usage(f, f.tenant_a, a1, "now() - interval '5 minutes'", 2, 7, 8);
  add_usage(f, f.tenant_a, a1, "now() - interval '3 hours'", 100, 100, 100);
  f.sql1("UPDATE nodes SET status = 'lost', status_reason = 'no heartbeat' WHERE id = '" + f.node_y +
         "' RETURNING id");

  Reply r = f.call("admin", "GET", "/api/v1/pool/history?minutes=60");
  REQUIRE(r.status == 200);
  CHECK(r.obj().at("minutes").as_int64() == 60);
  const auto& series = r.obj().at("series").as_array();
  REQUIRE(series.size() == 60);
  std::int64_t requests = 0, completion = 0;
  for (const auto& m : series) {
    requests += m.at("requests").as_int64();
    completion += m.at("completion_tokens").as_int64();
  }
  CHECK(requests == 6);
  CHECK(completion == 73);
  // This minute's (or, right at a minute's turn, the last one's) and 5 minutes ago.
  CHECK(series[59].at("requests").as_int64() + series[58].at("requests").as_int64() == 4);
  CHECK(series[59].at("prompt_tokens").as_int64() + series[58].at("prompt_tokens").as_int64() == 35);
  CHECK(series.front().at("minute").as_string() < series.back().at("minute").as_string());
  const auto& lost = r.obj().at("nodes_lost").as_array();
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].at("id").as_string() == f.node_y);
  CHECK(lost[0].at("name").as_string() == "node-y1");
  CHECK(lost[0].at("center_name").as_string() == "center-y");
  CHECK(lost[0].at("reason").as_string() == "no heartbeat");

  CHECK(f.call("admin", "GET", "/api/v1/pool/history").obj().at("series").as_array().size() == 60);
  CHECK(f.call("admin", "GET", "/api/v1/pool/history?minutes=1").obj().at("series").as_array().size() == 1);
  for (const char* bad : {"0", "1441", "x", "5m", ""}) {
    CAPTURE(bad);
    CHECK(f.call("admin", "GET", std::string("/api/v1/pool/history?minutes=") + bad).status == 400);
  }
  CHECK(f.call("member-a", "GET", "/api/v1/pool/history").status == 403);
  CHECK(f.call("op-x", "GET", "/api/v1/pool/history").status == 403);
  CHECK(f.call("nobody", "GET", "/api/v1/pool/history").status == 401);
}

TEST_CASE("console: /api/v1/config is public") {
  ResourceFixture f;
  if (!f.setup()) return;
  for (const char* who : {"nobody", "member-a", "admin"}) {
    Reply r = f.call(who, "GET", "/api/v1/config");
    REQUIRE(r.status == 200);
    CHECK(r.str("scheduler_url") == "http://scheduler.test:7000");
    CHECK(r.str("version") == std::string(kScnVersion));
  }
}

}  // namespace
}  // namespace scn::broker
