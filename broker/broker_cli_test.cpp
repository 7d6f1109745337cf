// `scn admin` and `scn broker` run as real processes (SCN_BINARY) against a
// scratch database.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/json.h"
#include "common/process/subprocess.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `scn admin --pg-url URL args...` with `input` on stdin.
Run admin(const std::string& pg_url, const std::vector<std::string>& args, const std::string& input = "") {
  scn::testing::TempDir dir;
  std::ofstream(dir.file("in")) << input;
  std::string cmd = quote(scn::testing::scn_binary()) + " admin --pg-url " + quote(pg_url);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " <" + quote(dir.file("in")) + " >" + quote(dir.file("out")) + " 2>" + quote(dir.file("err"));
  int rc = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(dir.file("out"));
  r.err = slurp(dir.file("err"));
  return r;
}

boost::json::value json_of(const Run& r) {
  auto v = common::parse_json(r.out);
  REQUIRE_MESSAGE(v.is_ok(), (r.out + r.err));
  return std::move(v).value();
}

TEST_CASE("scn admin: create and list, human and JSON, errors") {
  auto db = db::testing::make_test_database(false);  // the command migrates
  if (!db) return;
  const std::string url = db->db->url();

  Run t = admin(url, {"create-tenant", "acme", "--display-name", "Acme Corp", "--regions", "beijing,shanghai",
                      "--max-replicas", "8"});
  CHECK_MESSAGE(t.code == 0, t.err);
  CHECK(t.out.find("created tenant acme") != std::string::npos);
  Run tj = admin(url, {"--json", "create-tenant", "beta"});
  REQUIRE_MESSAGE(tj.code == 0, tj.err);
  CHECK(json_of(tj).at("name").as_string() == "beta");
  CHECK(json_of(tj).at("allowed_regions").is_null());

  Run c = admin(url, {"create-center", "gpu-a", "--region", "beijing", "--price-gpu-hour", "12.5"});
  CHECK_MESSAGE(c.code == 0, c.err);
  Run u = admin(url, {"create-user", "alice", "--role", "member", "--tenant", "acme", "--password-stdin",
                      "--kdf-cost", "10"},
                "secret-password\n");
  CHECK_MESSAGE(u.code == 0, u.err);
  Run op = admin(url, {"--json", "create-user", "op", "--role", "operator", "--center", "gpu-a", "--password",
                       "password1", "--kdf-cost", "10"});
  REQUIRE_MESSAGE(op.code == 0, op.err);
  CHECK(json_of(op).at("role").as_string() == "operator");

  Run key = admin(url, {"create-key", "--tenant", "acme", "--name", "ci"});
  REQUIRE_MESSAGE(key.code == 0, key.err);
  CHECK(key.out.rfind("scn-key-", 0) == 0);
  CHECK(key.out.size() == 8 + 43 + 1);
  CHECK(key.err.find("shown only once") != std::string::npos);
  Run keyj = admin(url, {"--json", "create-key", "--tenant", "acme", "--name", "ci2", "--expires-in", "3600"});
  REQUIRE_MESSAGE(keyj.code == 0, keyj.err);
  CHECK(json_of(keyj).at("key").as_string().starts_with("scn-key-"));
  CHECK(json_of(keyj).at("expires_at").is_string());

  Run tok = admin(url, {"create-join-token", "--center", "gpu-a", "--ttl", "600", "--max-uses", "2"});
  REQUIRE_MESSAGE(tok.code == 0, tok.err);
  CHECK(tok.out.rfind("scn-join-", 0) == 0);

  Run lt = admin(url, {"list", "tenants"});
  REQUIRE(lt.code == 0);
  CHECK(lt.out.rfind("NAME", 0) == 0);
  CHECK(lt.out.find("Acme Corp") != std::string::npos);
  CHECK(lt.out.find("beijing,shanghai") != std::string::npos);
  Run ltj = admin(url, {"list", "tenants", "--json"});
  REQUIRE(ltj.code == 0);
  CHECK(json_of(ltj).at("data").as_array().size() == 2);
  Run lc = admin(url, {"--json", "list", "centers"});
  REQUIRE(lc.code == 0);
  CHECK(json_of(lc).at("data").at(0).at("price_gpu_hour").as_double() == doctest::Approx(12.5));
  CHECK(admin(url, {"list", "nodes"}).code == 0);
  Run pool = admin(url, {"--json", "list", "pool"});
  REQUIRE_MESSAGE(pool.code == 0, pool.err);
  CHECK(json_of(pool).at("data").as_array().empty());

  struct Bad {
    std::vector<std::string> args;
    std::string input;
    const char* says;
  };
  const Bad bad[] = {
      {{"create-tenant", "acme"}, "", "already exists"},
      {{"create-tenant", "Bad Name"}, "", "name"},
      {{"create-center", "gpu-b"}, "", "region"},
      {{"create-user", "bob", "--role", "king", "--password", "password1"}, "", "--role"},
      {{"create-user", "bob", "--role", "member", "--tenant", "nope", "--password", "password1", "--kdf-cost", "10"}, "", "not found"},
      {{"create-user", "bob", "--role", "admin", "--password", "short", "--kdf-cost", "10"}, "", "8 characters"},
      {{"create-user", "bob", "--role", "admin"}, "", "--password"},
      {{"create-key", "--tenant", "nope", "--name", "x"}, "", "not found"},
      {{"create-join-token", "--center", "gpu-a", "--ttl", "5"}, "", "ttl_seconds"},
      {{"list", "everything"}, "", "list what"},
      {{"frobnicate"}, "", "unknown command"},
      {{}, "", "no command"},
  };
  for (const auto& b : bad) {
    std::string joined;
    for (const auto& a : b.args) joined += a + " ";
    CAPTURE(joined);
    Run r = admin(url, b.args, b.input);
    CHECK(r.code == 1);
    CHECK_MESSAGE(r.err.find(b.says) != std::string::npos, r.err);
  }
  Run unreachable = admin("postgresql://postgres@127.0.0.1:1/none", {"list", "tenants"});
  CHECK(unreachable.code == 1);
  CHECK(unreachable.err.find("scn admin: ") == 0);
}

TEST_CASE("scn broker: serves /health and /api/v1, stops on SIGTERM") {
  auto db = db::testing::make_test_database(false);
  if (!db) return;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return;
  const std::string url = db->db->url();
  REQUIRE(admin(url, {"create-user", "root", "--role", "admin", "--password", "password1", "--kdf-cost", "10"})
              .code == 0);
  const int port = scn::testing::free_port();
  process::SpawnOptions o;
  o.argv = {scn::testing::scn_binary(), "broker", "--pg-url", url, "--redis-url", *redis_url, "--port",
            std::to_string(port), "--kdf-cost", "10", "--usage-flush-ms", "200"};
  auto child = process::Subprocess::spawn(o);
  REQUIRE_MESSAGE(child.is_ok(), child.status().to_string());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    auto h = http::request("GET", base + "/health", {}, {}, std::chrono::milliseconds(500));
    up = h.is_ok() && h->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(up);
  auto metrics = http::request("GET", base + "/metrics");
  REQUIRE(metrics.is_ok());
  CHECK(metrics->status == 200);
  auto login = http::request("POST", base + "/api/v1/auth/login", R"({"username":"root","password":"password1"})");
  REQUIRE(login.is_ok());
  CHECK(login->status == 200);
  std::string cookie = login->headers.get_or("Set-Cookie", "");
  cookie = cookie.substr(0, cookie.find(';'));
  http::Headers h{{"Cookie", cookie}};
  auto created = http::request("POST", base + "/api/v1/tenants", R"({"name":"acme"})", h);
  REQUIRE(created.is_ok());
  CHECK(created->status == 201);
  // Resource routes and the gateway are mounted too.
  auto services = http::request("GET", base + "/api/v1/services", {}, h);
  REQUIRE(services.is_ok());
  CHECK(services->status == 200);
  auto models = http::request("GET", base + "/v1/models");
  REQUIRE(models.is_ok());
  CHECK(models->status == 401);
  auto big = http::request("POST", base + "/api/v1/tenants", R"({"name":")" + std::string(2u << 20, 'a') + "\"}", h);
  REQUIRE(big.is_ok());
  CHECK(big->status == 413);
  auto counted = http::request("GET", base + "/metrics");
  REQUIRE(counted.is_ok());
  CHECK(counted->body.find("scn_broker_api_requests_total{method=\"POST\",status=\"201\"} 1") !=
        std::string::npos);
  CHECK(counted->body.find("scn_http_rejected_connections_total 0") != std::string::npos);

  (*child)->signal(SIGTERM);
  auto code = (*child)->wait_for(std::chrono::seconds(15));
  REQUIRE(code.has_value());
  CHECK(*code == 0);

  // Bad flags: exit 2 with a message.
  process::SpawnOptions bad;
  bad.argv = {scn::testing::scn_binary(), "broker", "--pg-url", url};
  bad.env = {{"SCN_REDIS_URL", ""}};
  auto b = process::Subprocess::spawn(bad);
  REQUIRE(b.is_ok());
  auto bad_code = (*b)->wait_for(std::chrono::seconds(10));
  REQUIRE(bad_code.has_value());
  CHECK(*bad_code == 2);
}

}  // namespace
}  // namespace scn::broker
