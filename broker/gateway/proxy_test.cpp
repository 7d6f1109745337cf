#include "broker/gateway/proxy.h"

#include <doctest/doctest.h>

#include <set>
#include <thread>

namespace scn::broker {

TEST_CASE("EndpointBalancer: least outstanding, round robin, bad ones last, tried never") {
  EndpointBalancer b(std::chrono::milliseconds(200));
  const std::vector<Endpoint> eps = {{"r1", "n", "c", "http://a:1"}, {"r2", "n", "c", "http://b:2"},
                                     {"r3", "n", "c", "http://c:3"}};
  // Idle endpoints are taken in turn.
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) seen.insert(b.pick("s", eps, {})->url);
  CHECK(seen.size() == 3);

  // The one with the fewest outstanding requests wins.
  b.begin("http://a:1");
  b.begin("http://b:2");
  for (int i = 0; i < 4; ++i) CHECK(b.pick("s", eps, {})->url == "http://c:3");
  CHECK(b.outstanding("http://a:1") == 1);
  b.end("http://a:1");
  CHECK(b.outstanding("http://a:1") == 0);
  b.end("http://a:1");  // never below zero
  CHECK(b.outstanding("http://a:1") == 0);

  // Tried endpoints are skipped; when all were tried there is none.
  CHECK(b.pick("s", eps, {"http://a:1", "http://c:3"})->url == "http://b:2");
  CHECK_FALSE(b.pick("s", eps, {"http://a:1", "http://b:2", "http://c:3"}).has_value());
  CHECK_FALSE(b.pick("s", {}, {}).has_value());

  // A bad endpoint is avoided while others remain, used when it is the last.
  b.end("http://b:2");
  b.mark_bad("http://a:1");
  CHECK(b.is_bad("http://a:1"));
  for (int i = 0; i < 6; ++i) CHECK(b.pick("s", eps, {})->url != "http://a:1");
  CHECK(b.pick("s", eps, {"http://b:2", "http://c:3"})->url == "http://a:1");
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK_FALSE(b.is_bad("http://a:1"));
}

TEST_CASE("usage_of reads the usage object and spots the final usage chunk") {
  bool final_chunk = true;
  auto u = usage_of(R"({"choices":[{"text":"x"}],"usage":{"prompt_tokens":5,"completion_tokens":7}})", &final_chunk);
  REQUIRE(u.has_value());
  CHECK(u->prompt_tokens == 5);
  CHECK(u->completion_tokens == 7);
  CHECK_FALSE(final_chunk);
  u = usage_of(R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})", &final_chunk);
  REQUIRE(u.has_value());
  CHECK(final_chunk);
  CHECK_FALSE(usage_of(R"({"choices":[],"usage":null})", &final_chunk).has_value());
  CHECK_FALSE(final_chunk);
  CHECK_FALSE(usage_of("not json").has_value());
  CHECK_FALSE(usage_of("[1]").has_value());
}

}  // namespace scn::broker
