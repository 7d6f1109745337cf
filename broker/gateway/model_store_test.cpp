#include "broker/gateway/model_store.h"

#include <doctest/doctest.h>

#include <fstream>

#include "tests/testing.h"

namespace scn::broker {
namespace {

http::Request get(const std::string& path, http::Headers headers = {}) {
  http::Request r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  r.headers = std::move(headers);
  return r;
}

}  // namespace

TEST_CASE("is_plain_file_name") {
  const std::pair<const char*, bool> cases[] = {
      {"stories260K.gguf", true}, {"a-b_c.1", true}, {"", false},       {".", false},
      {"..", false},              {".hidden", false}, {"a/b", false},   {"../etc/passwd", false},
      {"a\\b", false},            {"/abs", false},
  };
  for (const auto& [name, ok] : cases) {
    CAPTURE(name);
    CHECK(is_plain_file_name(name) == ok);
  }
}

TEST_CASE("parse_byte_range") {
  struct Case {
    const char* header;
    std::uint64_t size;
    bool present;
    std::uint64_t first, last;
    bool unsatisfiable;
  };
  const Case cases[] = {
      {"bytes=0-9", 100, true, 0, 9, false},
      {"bytes=10-", 100, true, 10, 99, false},
      {"bytes=-10", 100, true, 90, 99, false},
      {"bytes=-1000", 100, true, 0, 99, false},
      {"bytes=90-1000", 100, true, 90, 99, false},
      {"bytes=100-", 100, false, 0, 0, true},
      {"bytes=200-300", 100, false, 0, 0, true},
      {"bytes=-0", 100, false, 0, 0, true},
      {"bytes=5-1", 100, false, 0, 0, false},
      {"bytes=0-1,5-6", 100, false, 0, 0, false},
      {"items=0-1", 100, false, 0, 0, false},
      {"bytes=a-b", 100, false, 0, 0, false},
      {"bytes=", 100, false, 0, 0, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header);
    bool unsat = false;
    auto r = parse_byte_range(c.header, c.size, &unsat);
    CHECK(r.has_value() == c.present);
    CHECK(unsat == c.unsatisfiable);
    if (r && c.present) {
      CHECK(r->first == c.first);
      CHECK(r->last == c.last);
    }
  }
}

TEST_CASE("serve_model_file: whole, ranges, ETag, traversal") {
  scn::testing::TempDir store;
  std::string content;
  for (int i = 0; i < 1000; ++i) content += static_cast<char>('a' + i % 26);
  { std::ofstream(store.file("m.gguf"), std::ios::binary) << content; }
  scn::testing::TempDir outside;
  { std::ofstream(outside.file("secret"), std::ios::binary) << "secret"; }
  const std::string dir = store.path().string();

  http::Response whole;
  serve_model_file(dir, get("/store/m.gguf"), whole);
  CHECK(whole.status() == 200);
  CHECK(whole.body() == content);
  const std::string etag = std::string(whole.headers().get("ETag").value_or(""));
  CHECK(etag.size() > 2);
  CHECK(whole.headers().get_or("Accept-Ranges", "") == "bytes");

  http::Response part;
  serve_model_file(dir, get("/store/m.gguf", {{"Range", "bytes=10-19"}}), part);
  CHECK(part.status() == 206);
  CHECK(part.body() == content.substr(10, 10));
  CHECK(part.headers().get_or("Content-Range", "") == "bytes 10-19/1000");

  http::Response tail;
  serve_model_file(dir, get("/store/m.gguf", {{"Range", "bytes=-5"}}), tail);
  CHECK(tail.status() == 206);
  CHECK(tail.body() == content.substr(995));

  http::Response bad_range;
  serve_model_file(dir, get("/store/m.gguf", {{"Range", "bytes=1000-"}}), bad_range);
  CHECK(bad_range.status() == 416);
  CHECK(bad_range.headers().get_or("Content-Range", "") == "bytes */1000");

  http::Response stale_if_range;  // another version: the whole file
  serve_model_file(dir, get("/store/m.gguf", {{"Range", "bytes=0-0"}, {"If-Range", "\"old\""}}), stale_if_range);
  CHECK(stale_if_range.status() == 200);
  CHECK(stale_if_range.body().size() == 1000);

  http::Response cached;
  serve_model_file(dir, get("/store/m.gguf", {{"If-None-Match", etag}}), cached);
  CHECK(cached.status() == 304);
  CHECK(cached.body().empty());

  const std::string rel_outside = "../" + outside.path().filename().string() + "/secret";
  for (const std::string& path : {"/store/" + rel_outside, std::string("/store/../m.gguf"), std::string("/store/"),
                                 std::string("/store/.."), std::string("/store/missing.gguf"),
                                 std::string("/store/sub/m.gguf")}) {
    CAPTURE(path);
    http::Response r;
    serve_model_file(dir, get(path), r);
    CHECK(r.status() == 404);
    CHECK(r.body().find("secret") == std::string::npos);
  }
  // No store, or a store directory that does not exist.
  for (const std::string& d : {std::string(), dir + "/nope"}) {
    http::Response r;
    serve_model_file(d, get("/store/m.gguf"), r);
    CHECK(r.status() == 404);
  }
}

}  // namespace scn::broker
