#include "broker/api_router.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <stdexcept>

#include "common/http/client.h"
#include "common/json.h"

namespace scn::broker {
namespace {

Result<Principal> test_auth(const http::Request& req) {
    if (req.header("Authorization") == "Bearer good") {
      Principal p;
      p.role = Role::kAdmin;
      p.username = "root";
      return p;
    }
    if (req.header("Authorization") == "Bearer down") return Status::unavailable("database is down");
    return Status::unauthenticated("no credentials");
}

void add_test_routes(ApiRouter& router) {
  auto echo = [](std::string tag) {
    return [tag](ApiCall& call) -> Status {
      boost::json::object out;
      out["route"] = tag;
      boost::json::object params;
      for (const auto& [k, v] : call.params) params[k] = v;
      out["params"] = std::move(params);
      if (call.principal != nullptr) out["who"] = call.who().username;
      reply_json(call, 200, out);
      return Status::ok();
    };
  };
  router.add("GET", "/api/v1/services", Access::kPublic, echo("list"));
  router.add("POST", "/api/v1/services", Access::kAuthenticated, echo("create"));
  router.add("GET", "/api/v1/services/{id}", Access::kPublic, echo("get"));
  router.add("GET", "/api/v1/services/mine", Access::kPublic, echo("mine"));
  router.add("POST", "/api/v1/services/{id}/scale", Access::kPublic, echo("scale"));
  router.add("DELETE", "/api/v1/centers/{id}/join-tokens/{token_id}", Access::kPublic, echo("revoke"));
  router.add("GET", "/api/v1/fails", Access::kPublic,
             [](ApiCall&) -> Status { return Status::conflict("field 'name' is taken"); });
  router.add("GET", "/api/v1/throws", Access::kPublic,
             [](ApiCall&) -> Status { throw std::runtime_error("boom"); });
  router.add("POST", "/api/v1/echo-body", Access::kPublic, [](ApiCall& call) -> Status {
    SCN_ASSIGN_OR_RETURN(auto body, json_body(call));
    reply_json(call, 200, body);
    return Status::ok();
  });
  router.add("DELETE", "/api/v1/empty", Access::kPublic, [](ApiCall& call) -> Status {
    reply_empty(call);
    return Status::ok();
  });
}

struct Outcome {
  int status;
  boost::json::object body;
  http::Headers headers;
};

Outcome call(const ApiRouter& router, std::string method, std::string path, std::string body = {},
             std::string auth = {}) {
  http::Request req;
  req.method = std::move(method);
  req.path = path;
  req.target = std::move(path);
  req.body = std::move(body);
  if (!auth.empty()) req.headers.set("Authorization", auth);
  http::Response res;
  router.dispatch(req, res);
  Outcome out{res.status(), {}, res.headers()};
  if (!res.body().empty()) {
    auto parsed = common::parse_json_object(res.body());
    REQUIRE_MESSAGE(parsed.is_ok(), res.body());
    out.body = std::move(parsed).value();
  }
  return out;
}

TEST_CASE("ApiRouter: routes, parameters, precedence") {
  ApiRouter router(test_auth);
  add_test_routes(router);
  struct Case {
    const char* method;
    const char* path;
    int status;
    const char* route;  // "" for errors
    const char* param;  // "name=value" or ""
  };
  const Case cases[] = {
      {"GET", "/api/v1/services", 200, "list", ""},
      {"GET", "/api/v1/services/abc", 200, "get", "id=abc"},
      {"GET", "/api/v1/services/mine", 200, "mine", ""},  // exact beats {id}
      {"POST", "/api/v1/services/x-1/scale", 200, "scale", "id=x-1"},
      {"DELETE", "/api/v1/centers/c1/join-tokens/t9", 200, "revoke", "token_id=t9"},
      {"GET", "/api/v1/nothing", 404, "", ""},
      {"GET", "/api/v1/services/abc/extra/more", 404, "", ""},
      {"GET", "/api/v1/services//scale", 404, "", ""},  // empty parameter
      {"PUT", "/api/v1/services", 405, "", ""},
      {"DELETE", "/api/v1/services/abc", 405, "", ""},
  };
  for (const auto& c : cases) {
    std::string where = std::string(c.method) + " " + c.path;
    CAPTURE(where);
    Outcome out = call(router, c.method, c.path);
    CHECK(out.status == c.status);
    if (c.status == 200) {
      CHECK(out.body["route"].as_string() == c.route);
      std::string param = c.param;
      if (!param.empty()) {
        auto eq = param.find('=');
        auto& params = out.body["params"].as_object();
        REQUIRE(params.contains(param.substr(0, eq)));
        CHECK(params[param.substr(0, eq)].as_string() == param.substr(eq + 1));
      }
    } else {
      REQUIRE(out.body.contains("error"));
      auto& error = out.body["error"].as_object();
      CHECK(error.contains("message"));
      CHECK(error.contains("param"));
      CHECK(error.contains("code"));
      CHECK(error["type"].as_string() ==
            (c.status == 404 ? "not_found_error" : "invalid_request_error"));
    }
  }
  Outcome bad_method = call(router, "PUT", "/api/v1/services");
  CHECK(bad_method.headers.get_or("Allow", "") == "GET, POST");
}

TEST_CASE("ApiRouter: authentication, errors, exceptions") {
  ApiRouter router(test_auth);
  add_test_routes(router);
  Outcome anon = call(router, "POST", "/api/v1/services");
  CHECK(anon.status == 401);
  CHECK(anon.body["error"].as_object()["type"].as_string() == "authentication_error");
  CHECK(call(router, "POST", "/api/v1/services", "", "Bearer bad").status == 401);
  CHECK(call(router, "POST", "/api/v1/services", "", "Bearer down").status == 503);
  Outcome ok = call(router, "POST", "/api/v1/services", "", "Bearer good");
  CHECK(ok.status == 200);
  CHECK(ok.body["who"].as_string() == "root");

  Outcome conflict = call(router, "GET", "/api/v1/fails");
  CHECK(conflict.status == 409);
  CHECK(conflict.body["error"].as_object()["type"].as_string() == "conflict_error");
  CHECK(conflict.body["error"].as_object()["param"].as_string() == "name");

  Outcome thrown = call(router, "GET", "/api/v1/throws");
  CHECK(thrown.status == 500);
  CHECK(thrown.body["error"].as_object()["message"].as_string() == "internal error");

  http::Request req;
  req.method = "DELETE";
  req.path = "/api/v1/empty";
  http::Response res;
  router.dispatch(req, res);
  CHECK(res.status() == 204);
  CHECK(res.body().empty());
}

TEST_CASE("json_body: malformed, not an object, invalid UTF-8, too large") {
  ApiRouter router(test_auth);
  add_test_routes(router);
  struct Case {
    std::string body;
    int status;
  };
  const Case cases[] = {
      {R"({"a":1})", 200},
      {"", 400},
      {"{", 400},
      {"[1,2]", 400},
      {"\"text\"", 400},
      {std::string("{\"a\":\"\xff\xfe\"}"), 400},
      {"{\"a\":\"" + std::string((1u << 20) + 1, 'x') + "\"}", 413},
  };
  for (const auto& c : cases) {
    std::string start = c.body.substr(0, 40);
    CAPTURE(start);
    Outcome out = call(router, "POST", "/api/v1/echo-body", c.body);
    CHECK(out.status == c.status);
  }
}

TEST_CASE("ApiRouter: mounted on a real server") {
  ApiRouter router(test_auth);
  add_test_routes(router);
  http::Server server;
  router.mount(server);
  REQUIRE(server.start().is_ok());
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto got = http::request("GET", base + "/api/v1/services/s%201");
  REQUIRE(got.is_ok());
  CHECK(got->status == 200);
  CHECK(got->body.find("\"id\":\"s 1\"") != std::string::npos);
  auto missing = http::request("GET", base + "/api/v1/zzz");
  REQUIRE(missing.is_ok());
  CHECK(missing->status == 404);
  auto posted = http::request("POST", base + "/api/v1/echo-body", R"({"x":[1]})");
  REQUIRE(posted.is_ok());
  CHECK(posted->status == 200);
  CHECK(posted->body == R"({"x":[1]})");
  server.stop();
  server.wait();
}

TEST_CASE("roles and actors") {
  CHECK(role_name(Role::kAdmin) == "admin");
  CHECK(role_name(Role::kOperator) == "operator");
  CHECK(role_name(Role::kMember) == "member");
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kMember}) {
    auto parsed = parse_role(role_name(r));
    REQUIRE(parsed.is_ok());
    CHECK(*parsed == r);
  }
  CHECK(parse_role("Admin").status().code() == Code::kInvalidArgument);
  CHECK(parse_role("").status().code() == Code::kInvalidArgument);

  Principal user;
  user.user_id = "u1";
  user.username = "alice";
  Actor a = Actor::of(user, "10.0.0.1");
  CHECK(a.kind == "user");
  CHECK(a.user_id == "u1");
  CHECK(a.name == "alice");
  CHECK(a.client_ip == "10.0.0.1");
  Principal key;
  key.kind = Principal::Kind::kApiKey;
  key.api_key_id = "k1";
  key.username = "ci";
  Actor b = Actor::of(key);
  CHECK(b.kind == "api_key");
  CHECK(b.user_id.empty());
  CHECK(b.name == "api-key:ci");
  Actor sys;
  CHECK(sys.kind == "system");
}

}  // namespace
}  // namespace scn::broker
