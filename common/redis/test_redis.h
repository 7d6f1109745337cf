// Test support for code that talks to Redis (include from *_test.cpp only:
// it uses doctest).
//
// Contract:
//  - redis_url_for_tests() is SCN_REDIS_URL (scripts/services.sh and
//    scripts/test.sh set it). When it is unset the calling test FAILS if
//    CI=true, and otherwise returns nullopt after a loud message, so that
//    the caller can skip.
//  - unique_key_prefix() gives keys and channels no other test process uses
//    ("t:<pid>:<random>:"), as tests share the server's databases.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

#include "tests/testing.h"

namespace scn::redis::testing {

inline std::optional<std::string> redis_url_for_tests() {
  const char* url = std::getenv("SCN_REDIS_URL");
  if (url != nullptr && *url != '\0') return std::string(url);
  if (scn::testing::in_ci()) {
    FAIL("SCN_REDIS_URL is not set: the Redis tests need a server "
         "(eval \"$(scripts/services.sh start DIR)\", or run scripts/test.sh)");
  }
  std::fprintf(stderr,
               "\n*** SKIPPING a Redis test: SCN_REDIS_URL is not set "
               "(eval \"$(scripts/services.sh start /tmp/scn-services)\") ***\n\n");
  MESSAGE("SKIPPED: SCN_REDIS_URL is not set");
  return std::nullopt;
}

inline std::string unique_key_prefix() {
  std::random_device rd;
  return "t:" + std::to_string(::getpid()) + ":" + std::to_string(rd()) + ":";
}

}  // namespace scn::redis::testing
