#include "common/crypto/worker_secret.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/db/test_db.h"

namespace scn::crypto {
namespace {

TEST_CASE("worker_secret is hex HMAC-SHA256 (RFC 4231 test case 2)") {
  CHECK(worker_secret("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string key(32, '\x07');
  CHECK(worker_secret(key, "a") != worker_secret(key, "b"));
  CHECK(worker_secret(key, "a").size() == 64);
}

TEST_CASE("bearer_matches") {
  const std::string s = "0123abcd";
  struct Case {
    const char* header;
    bool ok;
  };
  for (const Case& c : std::vector<Case>{{"Bearer 0123abcd", true},
                                         {"bearer 0123abcd", true},
                                         {"  BEARER   0123abcd  ", true},
                                         {"Bearer 0123abce", false},
                                         {"Bearer 0123abc", false},
                                         {"Bearer 0123abcdd", false},
                                         {"Basic 0123abcd", false},
                                         {"0123abcd", false},
                                         {"Bearer ", false},
                                         {"", false}}) {
    CAPTURE(c.header);
    CHECK(bearer_matches(c.header, s) == c.ok);
  }
  CHECK_FALSE(bearer_matches("Bearer ", ""));  // an empty secret never matches
}

TEST_CASE("worker_env carries the secret only when there is one") {
  CHECK(worker_env("").empty());
  auto env = worker_env("abc");
  REQUIRE(env.size() == 1);
  CHECK(env[0].first == "SCN_WORKER_SECRET");
  CHECK(env[0].second == "abc");
}

TEST_CASE("load_cluster_key: one key per database, also under concurrent first use") {
  auto db = db::testing::make_test_database(true, 4);
  if (!db) return;
  std::vector<std::string> keys(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < keys.size(); ++i) {
    threads.emplace_back([&, i] {
      auto k = load_cluster_key(**db);
      if (k.is_ok()) keys[i] = *k;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& k : keys) {
    CHECK(k.size() == 32);
    CHECK(k == keys[0]);
  }
  WorkerSecrets secrets(**db);
  auto s = secrets.for_replica("00000000-0000-0000-0000-000000000001");
  REQUIRE(s.is_ok());
  CHECK(*s == worker_secret(keys[0], "00000000-0000-0000-0000-000000000001"));
}

}  // namespace
}  // namespace scn::crypto
