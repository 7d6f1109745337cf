// /api/v1/prices, /bills and /requests through a real http::Server and
// PostgreSQL, with the accounts' people (accounts_api_test_fixture.h).
#include "broker/billing/billing_api.h"

#include <doctest/doctest.h>

#include "broker/accounts_api_test_fixture.h"
#include "broker/gateway/gateway_test_fixture.h"
#include "broker/gateway/request_log.h"

namespace scn::broker {
namespace {

using namespace scn::broker::testing;

struct Billing {
  std::unique_ptr<AccountsServer> s;
  World w;
  Creds root, alice, bob, opx;
};

std::optional<Billing> start_billing() {
  auto s = AccountsServer::start([](ApiRouter& r, BrokerContext& ctx) { add_billing_routes(r, ctx); });
  if (!s) return std::nullopt;
  Billing b{std::move(s), {}, {}, {}, {}, {}};
  b.w = World::make(*b.s);
  b.root.cookie = b.s->login("root", "password1");
  b.alice.cookie = b.s->login("alice", "password1");
  b.bob.cookie = b.s->login("bob", "password1");
  b.opx.cookie = b.s->login("opx", "password1");
  return b;
}

std::string node_in(db::PgPool& pg, const std::string& center, const std::string& name) {
  return sql_one(pg, "INSERT INTO nodes (center_id, name, address, status, secret_hash) VALUES (" + quote(center) +
                         ", " + quote(name) + ", '127.0.0.1', 'ready', decode(" + quote(crypto::to_hex(crypto::sha256(name))) + ", 'hex')) RETURNING id");
}

void replica_life(db::PgPool& pg, const std::string& service, const std::string& node, const std::string& state,
                  const std::string& ready, const std::string& stopped, const std::string& updated = "now()") {
  sql_one(pg, "INSERT INTO replicas (service_id, node_id, port, state, ready_at, stopped_at, updated_at) VALUES (" +
                  quote(service) + ", " + quote(node) + ", 20001, " + quote(state) + ", " + ready + ", " + stopped +
                  ", " + updated + ") RETURNING id");
}

void usage_row(db::PgPool& pg, const std::string& tenant, const std::string& service, const std::string& at,
               const std::string& model, const std::string& center, const std::string& counts) {
  sql_one(pg, "INSERT INTO usage_records (tenant_id, service_id, period_start, period_end, requests, prompt_tokens,"
              " cached_prompt_tokens, completion_tokens, model, center_id) VALUES (" + quote(tenant) + ", " +
                  quote(service) + ", " + quote(at) + ", " + quote(at) + ", " + counts + ", " + model + ", " +
                  center + ") RETURNING id");
}

}  // namespace

TEST_CASE("prices: admins set them (exact decimals, validated); everyone logged in reads them") {
  auto b = start_billing();
  if (!b) return;
  AccountsServer& s = *b->s;
  Reply set = s.call("PUT", "/api/v1/prices",
                     R"({"model":"*","prompt_per_million":1,"cached_prompt_per_million":0.1,)"
                     R"("completion_per_million":"2.500000","replica_hour":"3"})",
                     b->root);
  REQUIRE_MESSAGE(set.status == 200, set.body);
  CHECK(set.obj().at("prompt_per_million").as_string() == "1");
  CHECK(set.obj().at("cached_prompt_per_million").as_string() == "0.1");
  CHECK(set.obj().at("completion_per_million").as_string() == "2.5");
  CHECK(set.obj().at("currency").as_string() == "CNY");
  CHECK(set.obj().at("center_id").is_null());
  // The same (model, center) again replaces the row; another center adds one.
  CHECK(s.call("PUT", "/api/v1/prices", R"({"model":"*","prompt_per_million":"1.25"})", b->root).status == 200);
  Reply per_center = s.call("PUT", "/api/v1/prices",
                            R"({"model":"stories260K","center_id":")" + b->w.x.id + R"(","replica_hour":4.25})",
                            b->root);
  CHECK(per_center.status == 200);
  CHECK(per_center.obj().at("center_name").as_string() == "x");
  CHECK(s.count("SELECT count(*) FROM prices") == 2);
  CHECK(s.count("SELECT count(*) FROM audit_log WHERE action = 'price.set'") == 3);
  Reply list = s.call("GET", "/api/v1/prices", "", b->alice);
  REQUIRE(list.status == 200);
  const auto& data = list.obj().at("data").as_array();
  REQUIRE(data.size() == 2);
  CHECK(data[0].at("model").as_string() == "*");
  CHECK(data[0].at("prompt_per_million").as_string() == "1.25");
  CHECK(data[0].at("completion_per_million").as_string() == "0");

  struct Case {
    std::string body;
    Creds who;
    int status;
    const char* param;
  };
  const Case cases[] = {
      {R"({"model":"*","prompt_per_million":1})", b->alice, 403, ""},
      {R"({"model":"*","prompt_per_million":1})", b->opx, 403, ""},
      {R"({"model":"*","prompt_per_million":-1})", b->root, 400, "prompt_per_million"},
      {R"({"model":"*","replica_hour":"1e3"})", b->root, 400, "replica_hour"},
      {R"({"model":"*","completion_per_million":1e13})", b->root, 400, "completion_per_million"},
      {R"({"model":"*","cached_prompt_per_million":true})", b->root, 400, "cached_prompt_per_million"},
      {R"({"model":"*","price":1})", b->root, 400, "price"},
      {R"({"prompt_per_million":1})", b->root, 400, "model"},
      {R"({"model":"bad name","prompt_per_million":1})", b->root, 400, "model"},
      {R"({"model":"*","center_id":7})", b->root, 400, "center_id"},
      {R"({"model":"*","center_id":"nope"})", b->root, 404, ""},
      {R"({"model":"*","center_id":"00000000-0000-0000-0000-000000000001"})", b->root, 404, ""},
      {R"([1])", b->root, 400, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    Reply r = s.call("PUT", "/api/v1/prices", c.body, c.who);
    CHECK(r.status == c.status);
    if (*c.param != '\0') CHECK(r.json.at("error").at("param").as_string() == c.param);
  }
  CHECK(s.count("SELECT count(*) FROM prices") == 2);
}

TEST_CASE("prices: admins delete one by id (audited); others 403; unknown or malformed ids 404") {
  auto b = start_billing();
  if (!b) return;
  AccountsServer& s = *b->s;
  Reply set = s.call("PUT", "/api/v1/prices", R"({"model":"stories260K","center_id":")" + b->w.x.id +
                                                  R"(","prompt_per_million":2})", b->root);
  REQUIRE_MESSAGE(set.status == 200, set.body);
  const std::string id = std::to_string(set.obj().at("id").as_int64());
  struct Case {
    const char* what;
    std::string path;
    Creds who;
    int status;
  };
  const Case cases[] = {
      {"member", "/api/v1/prices/" + id, b->alice, 403},
      {"operator", "/api/v1/prices/" + id, b->opx, 403},
      {"anonymous", "/api/v1/prices/" + id, {}, 401},
      {"malformed id", "/api/v1/prices/abc", b->root, 404},
      {"negative id", "/api/v1/prices/-1", b->root, 404},
      {"huge id", "/api/v1/prices/99999999999999999999999", b->root, 404},
      {"unknown id", "/api/v1/prices/987654", b->root, 404},
      {"admin", "/api/v1/prices/" + id, b->root, 204},
      {"again", "/api/v1/prices/" + id, b->root, 404},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.what));
    Reply r = s.call("DELETE", c.path, "", c.who);
    CHECK_MESSAGE(r.status == c.status, r.body);
    if (r.status >= 400) CHECK(!r.error_type().empty());
  }
  CHECK(s.count("SELECT count(*) FROM prices") == 0);
  CHECK(s.count("SELECT count(*) FROM audit_log WHERE action = 'price.delete' AND target_id = '" + id +
                "' AND center_id = '" + b->w.x.id + "' AND details->>'model' = 'stories260K'") == 1);
}

TEST_CASE("bills: tokens and replica-hours per service, model and center, priced exactly; CSV") {
  auto b = start_billing();
  if (!b) return;
  AccountsServer& s = *b->s;
  db::PgPool& pg = s.pg();
  const std::string chat = add_service(pg, b->w.acme.id, "chat");
  const std::string other = add_service(pg, b->w.beta.id, "other");
  const std::string nx = node_in(pg, b->w.x.id, "nx");
  const std::string ny = node_in(pg, b->w.y.id, "ny");
  REQUIRE(s.call("PUT", "/api/v1/prices",
                 R"({"model":"*","prompt_per_million":1,"cached_prompt_per_million":0.5,"completion_per_million":2,)"
                 R"("replica_hour":"3"})",
                 b->root)
              .status == 200);
  REQUIRE(s.call("PUT", "/api/v1/prices",
                 R"({"model":"stories260K","center_id":")" + b->w.x.id +
                     R"(","prompt_per_million":"10","cached_prompt_per_million":"1","completion_per_million":"20.5",)"
                     R"("replica_hour":"4.25"})",
                 b->root)
              .status == 200);
  const std::string cx = quote(b->w.x.id), cy = quote(b->w.y.id);
  // acme/chat in x: (600000 x 10 + 400000 x 1 + 100000 x 20.5) / 1e6 = 8.45, and 2.5 replica-hours
  // x 4.25 = 10.625: 19.075 -> 19.08.
  usage_row(pg, b->w.acme.id, chat, "2026-10-05T00:00:00Z", "'stories260K'", cx, "3, 1000000, 400000, 100000");
  replica_life(pg, chat, nx, "stopped", "'2026-09-30T23:00:00Z'", "'2026-10-01T02:00:00Z'");
  replica_life(pg, chat, nx, "stopped", "'2026-10-31T23:30:00Z'", "'2026-11-01T05:00:00Z'");
  replica_life(pg, chat, nx, "failed", "NULL", "NULL");  // never ready: no hours
  // acme/chat, an old row (no model, no center): ('*', any) prices, (1000 x 1 + 3000 x 2) / 1e6 -> 0.01.
  usage_row(pg, b->w.acme.id, chat, "2026-10-20T00:00:00Z", "NULL", "NULL", "1, 1000, 0, 3000");
  // Outside the month.
  usage_row(pg, b->w.acme.id, chat, "2026-09-30T23:59:59Z", "'stories260K'", cx, "9, 9, 0, 9");
  usage_row(pg, b->w.acme.id, chat, "2026-11-01T00:00:00Z", "'stories260K'", cx, "9, 9, 0, 9");
  // beta/other in y: 2 (tokens) + 6 h x 3 (a lost replica ends at its last update) = 20.00.
  usage_row(pg, b->w.beta.id, other, "2026-10-10T00:00:00Z", "'stories260K'", cy, "1, 2000000, 0, 0");
  replica_life(pg, other, ny, "lost", "'2026-10-02T00:00:00Z'", "NULL", "'2026-10-02T06:00:00Z'");

  Reply acme = s.call("GET", "/api/v1/bills?month=2026-10", "", b->alice);
  REQUIRE_MESSAGE(acme.status == 200, acme.body);
  CHECK(acme.obj().at("currency").as_string() == "CNY");
  CHECK(acme.obj().at("month").as_string() == "2026-10");
  CHECK(acme.obj().at("total").as_string() == "19.09");
  const auto& lines = acme.obj().at("lines").as_array();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("center_id").is_null());
  CHECK(lines[0].at("model").as_string() == "stories260K");
  CHECK(lines[0].at("requests").as_int64() == 1);
  CHECK(lines[0].at("amount").as_string() == "0.01");
  CHECK(lines[0].at("replica_hours").as_string() == "0.0000");
  const auto& x = lines[1].as_object();
  CHECK(x.at("center_name").as_string() == "x");
  CHECK(x.at("service_name").as_string() == "chat");
  CHECK(x.at("requests").as_int64() == 3);
  CHECK(x.at("prompt_tokens").as_int64() == 1000000);
  CHECK(x.at("cached_prompt_tokens").as_int64() == 400000);
  CHECK(x.at("completion_tokens").as_int64() == 100000);
  CHECK(x.at("replica_hours").as_string() == "2.5000");
  CHECK(x.at("prices").at("completion_per_million").as_string() == "20.5");
  CHECK(x.at("prices").at("replica_hour").as_string() == "4.25");
  CHECK(x.at("amount").as_string() == "19.08");

  Reply all = s.call("GET", "/api/v1/bills?month=2026-10", "", b->root);
  REQUIRE(all.status == 200);
  CHECK(all.obj().at("lines").as_array().size() == 3);
  CHECK(all.obj().at("total").as_string() == "39.09");
  Reply beta = s.call("GET", "/api/v1/bills?month=2026-10&tenant_id=" + b->w.beta.id, "", b->root);
  REQUIRE(beta.status == 200);
  CHECK(beta.obj().at("total").as_string() == "20.00");
  CHECK(beta.obj().at("lines").at(0).at("replica_hours").as_string() == "6.0000");
  Reply empty = s.call("GET", "/api/v1/bills?month=2025-01", "", b->bob);
  REQUIRE(empty.status == 200);
  CHECK(empty.obj().at("lines").as_array().empty());
  CHECK(empty.obj().at("total").as_string() == "0.00");

  auto csv = http::request("GET", s.base() + "/api/v1/bills?month=2026-10&format=csv", {},
                           {{"Cookie", std::string(kSessionCookie) + "=" + b->alice.cookie}});
  REQUIRE(csv.is_ok());
  CHECK(csv->status == 200);
  CHECK(csv->headers.get_or("Content-Type", "").rfind("text/csv", 0) == 0);
  CHECK(csv->headers.get_or("Content-Disposition", "") == "attachment; filename=\"bill-2026-10.csv\"");
  CHECK(csv->body.rfind("tenant_id,tenant_name,service_id,service_name,model,center_id,center_name,requests,"
                        "prompt_tokens,cached_prompt_tokens,completion_tokens,replica_hours,"
                        "price_prompt_per_million,price_cached_prompt_per_million,price_completion_per_million,"
                        "price_replica_hour,amount\r\n",
                        0) == 0);
  CHECK(csv->body.find(b->w.acme.id + ",acme," + chat + ",chat,stories260K," + b->w.x.id +
                       ",x,3,1000000,400000,100000,2.5000,10,1,20.5,4.25,19.08\r\n") != std::string::npos);
  const std::string total_line = "\r\ntotal" + std::string(16, ',') + "19.09\r\n";  // 17 fields
  REQUIRE(csv->body.size() > total_line.size());
  CHECK(csv->body.substr(csv->body.size() - total_line.size()) == total_line);

  struct Case {
    std::string query;
    Creds who;
    int status;
  };
  const Case cases[] = {
      {"?month=2026-13", b->alice, 400},  {"?month=2026-1", b->alice, 400},
      {"?month=nov", b->root, 400},       {"?month=2026-10&format=xml", b->alice, 400},
      {"?tenant_id=" + b->w.beta.id, b->alice, 403}, {"?tenant_id=nope", b->root, 404},
      {"?tenant_id=00000000-0000-0000-0000-000000000001", b->root, 404}, {"", b->opx, 403},
      {"", b->alice, 200},
  };
  for (const auto& c : cases) {
    CAPTURE(c.query);
    Reply r = s.call("GET", "/api/v1/bills" + c.query, "", c.who);
    CHECK(r.status == c.status);
    if (c.status != 200) CHECK(r.json.at("error").is_object());
  }
}

TEST_CASE("requests: the request log of the caller's own tenant; a foreign request is 404") {
  auto b = start_billing();
  if (!b) return;
  AccountsServer& s = *b->s;
  db::PgPool& pg = s.pg();
  const std::string chat = add_service(pg, b->w.acme.id, "chat");
  {
    RequestLog log(pg, std::chrono::hours(24));
    auto entry = [&](const std::string& id, const std::string& tenant, const std::string& service, int status) {
      RequestLogEntry e;
      e.request_id = id;
      e.tenant_id = tenant;
      e.service_id = service;
      e.service_name = service.empty() ? "" : "chat";
      e.model = "stories260K";
      e.path = "/v1/chat/completions";
      e.replica_id = "r1";
      e.node_id = "n1";
      e.center_id = b->w.x.id;
      e.replica_url = "http://127.0.0.1:1";
      e.attempts = 1;
      e.status = status;
      e.prompt_tokens = 5;
      e.cached_prompt_tokens = 2;
      e.completion_tokens = 7;
      e.latency_ms = 12.5;
      e.started_at = std::chrono::system_clock::now();
      log.record(e);
    };
    entry("a-1", b->w.acme.id, chat, 200);
    entry("a-2", b->w.acme.id, "", 404);
    entry("b-1", b->w.beta.id, "", 200);
    RequestLogEntry old;
    old.request_id = "a-old";
    old.tenant_id = b->w.acme.id;
    old.path = "/v1/completions";
    old.status = 200;
    old.started_at = std::chrono::system_clock::now() - std::chrono::hours(48);
    log.record(old);
    REQUIRE(log.flush().is_ok());  // the first flush also prunes rows over the retention
    CHECK(s.count("SELECT count(*) FROM request_log WHERE request_id = 'a-old'") == 0);
  }
  Reply mine = s.call("GET", "/api/v1/requests", "", b->alice);
  REQUIRE_MESSAGE(mine.status == 200, mine.body);
  const auto& rows = mine.obj().at("data").as_array();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("request_id").as_string() == "a-2");
  CHECK(rows[0].at("service_id").is_null());
  const auto& a1 = rows[1].as_object();
  CHECK(a1.at("route").at("center_id").as_string() == b->w.x.id);
  CHECK(a1.at("route").at("url").as_string() == "http://127.0.0.1:1");
  CHECK(a1.at("usage").at("cached_prompt_tokens").as_int64() == 2);
  CHECK(a1.at("latency_ms").as_double() == 12.5);
  CHECK(a1.at("ttfb_ms").is_null());
  Reply by_service = s.call("GET", "/api/v1/requests?service_id=" + chat + "&limit=5", "", b->alice);
  REQUIRE(by_service.status == 200);
  CHECK(by_service.obj().at("data").as_array().size() == 1);
  Reply page = s.call("GET", "/api/v1/requests?limit=1&before_id=" +
                                 std::to_string(rows[0].at("id").as_int64()), "", b->alice);
  REQUIRE(page.status == 200);
  CHECK(page.obj().at("data").at(0).at("request_id").as_string() == "a-1");
  CHECK(s.call("GET", "/api/v1/requests/a-1", "", b->alice).obj().at("status").as_int64() == 200);
  CHECK(s.call("GET", "/api/v1/requests/b-1", "", b->alice).status == 404);  // another tenant's
  CHECK(s.call("GET", "/api/v1/requests/b-1", "", b->bob).status == 200);
  CHECK(s.call("GET", "/api/v1/requests/b-1", "", b->root).status == 200);
  CHECK(s.call("GET", "/api/v1/requests/nope", "", b->alice).status == 404);
  CHECK(s.call("GET", "/api/v1/requests/b%201", "", b->alice).status == 404);
  CHECK(s.call("GET", "/api/v1/requests", "", b->root).obj().at("data").as_array().size() == 3);
  CHECK(s.call("GET", "/api/v1/requests?tenant_id=" + b->w.beta.id, "", b->root)
            .obj().at("data").as_array().size() == 1);
  for (const std::string& q : {std::string("?limit=0"), std::string("?limit=x"), std::string("?before_id=-1")}) {
    CAPTURE(q);
    CHECK(s.call("GET", "/api/v1/requests" + q, "", b->alice).status == 400);
  }
  CHECK(s.call("GET", "/api/v1/requests?service_id=" + chat, "", b->bob).status == 404);
  CHECK(s.call("GET", "/api/v1/requests?tenant_id=" + b->w.beta.id, "", b->alice).status == 403);
  CHECK(s.call("GET", "/api/v1/requests", "", b->opx).status == 403);
}

}  // namespace scn::broker
