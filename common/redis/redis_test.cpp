#include "common/redis/redis.h"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "common/redis/test_redis.h"
#include "tests/testing.h"

namespace scn::redis {
namespace {

using namespace std::chrono_literals;
using testing::redis_url_for_tests;
using testing::unique_key_prefix;

std::unique_ptr<RedisClient> connect_or_skip() {
  auto url = redis_url_for_tests();
  if (!url) return nullptr;
  auto c = RedisClient::connect(*url);
  REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
  return std::move(c).value();
}

TEST_CASE("parse_redis_url") {
  struct Case {
    const char* url;
    bool ok;
    const char* host = "";
    int port = 0;
    int db = 0;
    const char* user = "";
    const char* password = "";
  };
  const Case cases[] = {
      {"redis://127.0.0.1:6380/2", true, "127.0.0.1", 6380, 2, "", ""},
      {"redis://localhost", true, "localhost", 6379, 0, "", ""},
      {"redis://localhost/", true, "localhost", 6379, 0, "", ""},
      {"REDIS://h:1/0", true, "h", 1, 0, "", ""},
      {"redis://:s%40cret@h:7/3", true, "h", 7, 3, "", "s@cret"},
      {"redis://alice:pw@h", true, "h", 6379, 0, "alice", "pw"},
      {"redis://[::1]:6379/1", true, "::1", 6379, 1, "", ""},
      {"rediss://h:6379", false},
      {"http://h:6379", false},
      {"redis://h:6379/x", false},
      {"redis://h:6379/1/2", false},
      {"redis://h:6379/-1", false},
      {"redis://h:0", false},
      {"redis://:6379", false},
      {"redis://alice@h", false},
      {"redis://h?timeout=1", false},
      {"not a url", false},
      {"", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    auto r = parse_redis_url(c.url);
    REQUIRE(r.is_ok() == c.ok);
    if (!c.ok) {
      CHECK(r.status().code() == Code::kInvalidArgument);
      continue;
    }
    CHECK(r->host == c.host);
    CHECK(r->port == c.port);
    CHECK(r->db == c.db);
    CHECK(r->username == c.user);
    CHECK(r->password == c.password);
  }
}

TEST_CASE("LuaScript knows its SHA-1") {
  CHECK(LuaScript("return 1").sha1() == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_CASE("an unreachable server is kUnavailable") {
  auto c = RedisClient::connect("redis://127.0.0.1:" + std::to_string(scn::testing::free_port()));
  REQUIRE_FALSE(c.is_ok());
  CHECK(c.status().code() == Code::kUnavailable);
}

TEST_CASE("strings: SET / GET / DEL, binary-safe, NX and XX") {
  auto r = connect_or_skip();
  if (!r) return;
  const std::string k = unique_key_prefix() + "s";
  const std::string binary("a\0b\r\nc", 6);

  CHECK(r->ping().is_ok());
  auto missing = r->get(k);
  REQUIRE(missing.is_ok());
  CHECK(!missing->has_value());

  CHECK(*r->set(k, binary));
  auto got = r->get(k);
  REQUIRE(got.is_ok());
  REQUIRE(got->has_value());
  CHECK(**got == binary);

  SetOptions nx;
  nx.condition = SetOptions::Condition::kIfAbsent;
  CHECK_FALSE(*r->set(k, "other", nx));
  CHECK(**r->get(k) == binary);
  SetOptions xx;
  xx.condition = SetOptions::Condition::kIfPresent;
  CHECK(*r->set(k, "replaced", xx));
  CHECK(**r->get(k) == "replaced");
  CHECK_FALSE(*r->set(k + ":absent", "x", xx));

  CHECK(*r->del({k, k + ":absent"}) == 1);
  CHECK(*r->del({k}) == 0);
  CHECK(*r->del({}) == 0);
  CHECK(*r->incr_by(k, 5) == 5);
  CHECK(*r->incr_by(k, -7) == -2);
  CHECK(r->del({k}).is_ok());
}

TEST_CASE("TTLs: SET PX, PEXPIRE, PTTL, expiry") {
  auto r = connect_or_skip();
  if (!r) return;
  const std::string p = unique_key_prefix();
  SetOptions ttl;
  ttl.ttl = 150ms;
  CHECK(*r->set(p + "a", "1", ttl));
  auto left = r->pttl(p + "a");
  REQUIRE(left.is_ok());
  CHECK(*left > 0);
  CHECK(*left <= 150);

  CHECK(*r->set(p + "b", "1"));
  CHECK(*r->pttl(p + "b") == -1);
  CHECK(*r->expire(p + "b", 150ms));
  CHECK_FALSE(*r->expire(p + "nothing", 150ms));
  CHECK(*r->pttl(p + "nothing") == -2);

  std::this_thread::sleep_for(400ms);
  CHECK(!r->get(p + "a")->has_value());
  CHECK(!r->get(p + "b")->has_value());
  CHECK(*r->pttl(p + "a") == -2);

  ttl.ttl = 0ms;
  CHECK(r->set(p + "c", "1", ttl).status().code() == Code::kInvalidArgument);
}

TEST_CASE("hashes and typed errors") {
  auto r = connect_or_skip();
  if (!r) return;
  const std::string h = unique_key_prefix() + "h";
  CHECK(*r->hset(h, {{"node", "n1"}, {"port", "9001"}}) == 2);
  CHECK(*r->hset(h, {{"port", "9002"}, {"state", "ready"}}) == 1);
  auto all = r->hgetall(h);
  REQUIRE(all.is_ok());
  CHECK(*all == std::map<std::string, std::string>{{"node", "n1"}, {"port", "9002"}, {"state", "ready"}});
  CHECK(r->hgetall(h + ":none")->empty());
  CHECK(r->hset(h, {}).status().code() == Code::kInvalidArgument);

  auto wrong = r->get(h);  // a hash is not a string
  REQUIRE_FALSE(wrong.is_ok());
  CHECK(wrong.status().code() == Code::kConflict);
  CHECK(wrong.status().message().find("WRONGTYPE") != std::string::npos);

  auto unknown = r->command({"NOSUCHCOMMAND", "x"});
  CHECK(unknown.status().code() == Code::kInternal);
  CHECK(unknown.status().message().find("unknown command") != std::string::npos);
  CHECK(r->command({}).status().code() == Code::kInvalidArgument);

  auto list = r->command({"RPUSH", h + ":l", "a", "b"});
  REQUIRE(list.is_ok());
  CHECK(list->debug_string() == "2");
  CHECK(r->command({"LRANGE", h + ":l", "0", "-1"})->debug_string() == "[\"a\", \"b\"]");
  CHECK(*r->del({h, h + ":l"}) == 2);
  CHECK(r->ping().is_ok());  // errors leave the connection usable
}

TEST_CASE("Lua: EVAL, EVALSHA, SCRIPT LOAD, run_script after SCRIPT FLUSH") {
  auto r = connect_or_skip();
  if (!r) return;
  const std::string k = unique_key_prefix() + "lua";
  auto v = r->eval("redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], ARGV[1], 42, false}", {k},
                   {"v"});
  REQUIRE_MESSAGE(v.is_ok(), v.status().to_string());
  CHECK(v->debug_string() == "[\"" + k + "\", \"v\", 42, nil]");
  CHECK(**r->get(k) == "v");

  auto err = r->eval("return redis.error_reply('bucket empty')", {}, {});
  CHECK(err.status().code() == Code::kInternal);
  CHECK(err.status().message().find("bucket empty") != std::string::npos);

  // An atomic check-and-take, the shape of a rate limiter.
  LuaScript take(R"lua(
    local n = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
    if n <= 0 then return 0 end
    redis.call('SET', KEYS[1], n - 1, 'PX', 60000)
    return 1)lua");
  auto sha = r->script_load(take.source());
  REQUIRE(sha.is_ok());
  CHECK(*sha == take.sha1());
  CHECK(r->evalsha(take.sha1(), {k + ":bucket"}, {"2"})->integer == 1);

  REQUIRE(r->command({"SCRIPT", "FLUSH"}).is_ok());
  auto gone = r->evalsha(take.sha1(), {k + ":bucket"}, {"2"});
  CHECK(gone.status().code() == Code::kNotFound);
  CHECK(r->run_script(take, {k + ":bucket"}, {"2"})->integer == 1);  // falls back to EVAL
  CHECK(r->run_script(take, {k + ":bucket"}, {"2"})->integer == 0);  // bucket empty
  CHECK(r->evalsha(take.sha1(), {k + ":bucket"}, {"2"}).is_ok());    // cached again
  CHECK(*r->del({k, k + ":bucket"}) == 2);
}

TEST_CASE("FLUSHDB empties only its own database") {
  auto url = redis_url_for_tests();
  if (!url) return;
  auto base = parse_redis_url(*url);
  REQUIRE(base.is_ok());
  RedisOptions scratch_db = *base;
  scratch_db.db = 15;  // by convention the tests' scratch database
  auto scratch = RedisClient::connect(scratch_db);
  REQUIRE(scratch.is_ok());
  auto main = RedisClient::connect(*base);
  REQUIRE(main.is_ok());
  if (base->db == 15) return;
  const std::string k = unique_key_prefix() + "f";
  CHECK(*(*scratch)->set(k, "x"));
  CHECK(*(*main)->set(k, "y"));
  CHECK((*scratch)->flushdb().is_ok());
  CHECK(!(*scratch)->get(k)->has_value());
  CHECK(**(*main)->get(k) == "y");
  CHECK(*(*main)->del({k}) == 1);
}

TEST_CASE("one client shared by threads") {
  auto r = connect_or_skip();
  if (!r) return;
  const std::string k = unique_key_prefix() + "n";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (!r->incr_by(k, 1).is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(**r->get(k) == "400");
  CHECK(*r->del({k}) == 1);
}

TEST_CASE("a killed connection is replaced before the next command") {
  auto r = connect_or_skip();
  if (!r) return;
  auto killer = connect_or_skip();
  auto id = r->command({"CLIENT", "ID"});
  REQUIRE(id.is_ok());
  auto killed = killer->command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
  REQUIRE(killed.is_ok());
  CHECK(killed->integer == 1);
  std::this_thread::sleep_for(50ms);
  CHECK(r->ping().is_ok());  // no failed call
  auto id2 = r->command({"CLIENT", "ID"});
  REQUIRE(id2.is_ok());
  CHECK(id2->integer != id->integer);
}

TEST_CASE("a command past command_timeout is kUnavailable, and the client recovers") {
  auto url = redis_url_for_tests();
  if (!url) return;
  auto options = parse_redis_url(*url);
  REQUIRE(options.is_ok());
  options->command_timeout = 100ms;
  auto r = RedisClient::connect(*options);
  REQUIRE(r.is_ok());
  auto blocked = (*r)->command({"BLPOP", unique_key_prefix() + "never", "1"});
  REQUIRE_FALSE(blocked.is_ok());
  CHECK(blocked.status().code() == Code::kUnavailable);
  CHECK(blocked.status().message().find("within 100 ms") != std::string::npos);
  CHECK((*r)->ping().is_ok());
}

TEST_CASE("a wrong password is kUnauthenticated") {
  auto url = redis_url_for_tests();
  if (!url) return;
  auto options = parse_redis_url(*url);
  REQUIRE(options.is_ok());
  options->password = "not-the-password";
  auto r = RedisClient::connect(*options);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace scn::redis
