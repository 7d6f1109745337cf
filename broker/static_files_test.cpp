// StaticFiles over real HTTP: a temporary web root served next to a fake
// /api/v1 route, the way BrokerService mounts it; and BrokerService itself
// with --web-root and --scheduler-url.
#include "broker/static_files.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "broker/broker_service.h"
#include "common/db/test_db.h"
#include "common/http/client.h"
#include "common/http/server.h"
#include "common/json.h"
#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// <tmp>/dist: index.html, assets/app-1a2b.js, app.css, logo.svg, font.woff2,
// data.json, assets/app-1a2b.js.map, icon.png, escape -> <tmp>/secret.txt.
struct WebRoot {
  scn::testing::TempDir dir;
  fs::path root = dir.path() / "dist";
  WebRoot() {
    write(root / "index.html", "<!doctype html><title>scn</title>");
    write(root / "assets" / "app-1a2b.js", "console.log(1)");
    write(root / "assets" / "app-1a2b.js.map", "{}");
    write(root / "assets" / "app.css", "body{}");
    write(root / "logo.svg", "<svg/>");
    write(root / "assets" / "font.woff2", "wOF2");
    write(root / "icon.png", "\x89PNG");
    write(root / "data.json", "{\"a\":1}");
    write(dir.path() / "secret.txt", "TOP-SECRET");
    fs::create_symlink(dir.path() / "secret.txt", root / "escape.txt");
  }
};

struct Served {
  std::unique_ptr<StaticFiles> files;
  http::Server server;
  std::string base;
  explicit Served(const fs::path& root) {
    auto opened = StaticFiles::open(root);
    REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
    files = std::move(opened).value();
    server.route_prefix("GET", "/api/v1/", [](const http::Request&, http::Response& rs) {
      rs.set_json(200, R"({"api":true})");
    });
    server.route("GET", "/health", [](const http::Request&, http::Response& rs) {
      rs.set_json(200, R"({"status":"ok"})");
    });
    files->mount(server);
    REQUIRE(server.start().is_ok());
    base = "http://127.0.0.1:" + std::to_string(server.port());
  }
  ~Served() {
    server.stop();
    server.wait();
  }
  http::ClientResponse get(const std::string& path, const http::Headers& headers = {}) {
    auto r = http::request("GET", base + path, "", headers);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    return *r;
  }
};

bool is_json_404(const http::ClientResponse& r) {
  if (r.status != 404) return false;
  auto v = common::parse_json(r.body);
  return v.is_ok() && v->is_object() && v->as_object().contains("error");
}

TEST_CASE("static files: content types and caching headers") {
  WebRoot web;
  Served s(web.root);
  struct Row {
    std::string path, type, cache, body;
  };
  const Row rows[] = {
      {"/", "text/html; charset=utf-8", "no-cache", "<!doctype html><title>scn</title>"},
      {"/index.html", "text/html; charset=utf-8", "no-cache", "<!doctype html><title>scn</title>"},
      {"/assets/app-1a2b.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable",
       "console.log(1)"},
      {"/assets/app-1a2b.js.map", "application/json", "public, max-age=31536000, immutable", "{}"},
      {"/assets/app.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", "body{}"},
      {"/assets/font.woff2", "font/woff2", "public, max-age=31536000, immutable", "wOF2"},
      {"/logo.svg", "image/svg+xml", "no-cache", "<svg/>"},
      {"/icon.png", "image/png", "no-cache", "\x89PNG"},
      {"/data.json", "application/json", "no-cache", "{\"a\":1}"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.path);
    auto r = s.get(row.path);
    CHECK(r.status == 200);
    CHECK(r.headers.get_or("Content-Type", "") == row.type);
    CHECK(r.headers.get_or("Cache-Control", "") == row.cache);
    CHECK(r.headers.get_or("X-Content-Type-Options", "") == "nosniff");
    CHECK(r.body == row.body);
    CHECK(!r.headers.get_or("ETag", "").empty());
  }
}

TEST_CASE("static files: ETag and 304") {
  WebRoot web;
  Served s(web.root);
  auto first = s.get("/assets/app-1a2b.js");
  const std::string etag = first.headers.get_or("ETag", "");
  REQUIRE(etag.size() > 2);
  auto again = s.get("/assets/app-1a2b.js", {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(s.get("/assets/app-1a2b.js", {{"If-None-Match", "\"x\", W/" + etag}}).status == 304);
  CHECK(s.get("/assets/app-1a2b.js", {{"If-None-Match", "\"other\""}}).status == 200);
  // A changed file gets a new tag.
  write(web.root / "assets" / "app-1a2b.js", "console.log(22)");
  auto changed = s.get("/assets/app-1a2b.js", {{"If-None-Match", etag}});
  CHECK(changed.status == 200);
  CHECK(changed.body == "console.log(22)");
  CHECK(changed.headers.get_or("ETag", "") != etag);
}

TEST_CASE("static files: the app's routes get index.html, the API's unknown paths a JSON 404") {
  WebRoot web;
  Served s(web.root);
  for (const char* path : {"/services/123", "/admin/pool", "/zh/catalog?q=x", "/login"}) {
    CAPTURE(path);
    auto r = s.get(path);
    CHECK(r.status == 200);
    CHECK(r.body == "<!doctype html><title>scn</title>");
    CHECK(r.headers.get_or("Cache-Control", "") == "no-cache");
  }
  for (const char* path : {"/api/nope", "/api", "/api/v2/x", "/v1/nope", "/store/x", "/health/x",
                           "/metrics", "/agent/v1/x", "/assets/missing-9f.js"}) {
    CAPTURE(path);
    CHECK(is_json_404(s.get(path)));
  }
  CHECK(s.get("/api/v1/anything").body == R"({"api":true})");
  CHECK(s.get("/health").body == R"({"status":"ok"})");
  // Other methods under /api/ are a JSON 404 too, not 405.
  auto post = http::request("POST", s.base + "/api/nope", "{}");
  REQUIRE(post.is_ok());
  CHECK(is_json_404(*post));
}

TEST_CASE("static files: no way out of the root") {
  WebRoot web;
  Served s(web.root);
  for (const char* path : {"/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt",
                           "/assets/%2e%2e/%2e%2e/secret.txt", "/escape.txt", "/..%5csecret.txt",
                           "/./index.html"}) {
    CAPTURE(path);
    auto r = s.get(path);
    CHECK(r.body.find("TOP-SECRET") == std::string::npos);
    CHECK(r.status == 404);
  }
}

TEST_CASE("static files: open() needs a directory with index.html; content_type_for") {
  scn::testing::TempDir dir;
  CHECK(StaticFiles::open(dir.path() / "none").status().code() == Code::kNotFound);
  CHECK(StaticFiles::open(dir.path()).status().code() == Code::kNotFound);
  write(dir.path() / "index.html", "x");
  CHECK(StaticFiles::open(dir.path()).is_ok());
  CHECK(content_type_for("a.HTML.bin") == "application/octet-stream");
  CHECK(content_type_for(".js") == "application/octet-stream");
  CHECK(content_type_for("x.mjs") == "text/javascript; charset=utf-8");
}

TEST_CASE("broker service: --web-root serves the console beside the API; /api/v1/config") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  auto redis_url = redis::testing::redis_url_for_tests();
  if (!redis_url) return;
  WebRoot web;
  BrokerOptions o;
  o.pg_url = db->db->url();
  o.redis_url = *redis_url;
  o.port = 0;
  o.kdf.log2_n = 10;
  o.worker_threads = 2;
  o.web_root = web.root.string();
  o.scheduler_url = "http://10.0.0.7:7000";
  auto service = BrokerService::start(o);
  REQUIRE_MESSAGE(service.is_ok(), service.status().to_string());
  const std::string base = "http://127.0.0.1:" + std::to_string((*service)->port());
  auto get = [&](const std::string& path) {
    auto r = http::request("GET", base + path);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    return *r;
  };
  auto config = get("/api/v1/config");
  CHECK(config.status == 200);
  auto v = common::parse_json(config.body);
  REQUIRE(v.is_ok());
  CHECK(v->at("scheduler_url").as_string() == "http://10.0.0.7:7000");
  CHECK(!v->at("version").as_string().empty());
  CHECK(get("/").body == "<!doctype html><title>scn</title>");
  CHECK(get("/tenant/services/x").body == "<!doctype html><title>scn</title>");
  CHECK(get("/health").status == 200);
  CHECK(get("/metrics").status == 200);
  CHECK(is_json_404(get("/api/v1/no-such-endpoint")));
  CHECK(is_json_404(get("/api/other")));
  CHECK(get("/api/v1/auth/me").status == 401);
  CHECK(get("/v1/models").status == 401);

  o.web_root = (web.dir.path() / "missing").string();
  CHECK(BrokerService::start(o).status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace scn::broker
