// Test support for code that talks to PostgreSQL (include from *_test.cpp
// only: it uses doctest).
//
// Contract:
//  - pg_url_for_tests() is SCN_PG_URL (scripts/services.sh and
//    scripts/test.sh set it). When it is unset the calling test FAILS if
//    CI=true, and otherwise returns nullopt after a loud message, so that
//    the caller can skip.
//  - TestDatabase is a fresh database of its own (ScratchDatabase: dropped
//    afterwards) with a PgPool on it, optionally with the embedded
//    migrations applied - tests running at the same time never share rows.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "common/db/migrate.h"
#include "common/db/pg.h"
#include "common/db/scratch_db.h"
#include "tests/testing.h"

namespace scn::db::testing {

inline std::optional<std::string> pg_url_for_tests() {
  const char* url = std::getenv("SCN_PG_URL");
  if (url != nullptr && *url != '\0') return std::string(url);
  if (scn::testing::in_ci()) {
    FAIL("SCN_PG_URL is not set: the PostgreSQL tests need a server "
         "(eval \"$(scripts/services.sh start DIR)\", or run scripts/test.sh)");
  }
  std::fprintf(stderr,
               "\n*** SKIPPING a PostgreSQL test: SCN_PG_URL is not set "
               "(eval \"$(scripts/services.sh start /tmp/scn-services)\") ***\n\n");
  MESSAGE("SKIPPED: SCN_PG_URL is not set");
  return std::nullopt;
}

struct TestDatabase {
  std::optional<ScratchDatabase> db;
  std::unique_ptr<PgPool> pool;

  PgPool& operator*() { return *pool; }
  PgPool* operator->() { return pool.get(); }
};

// A fresh database (migrated when `migrated`), or nullopt when the test is
// to be skipped; failures to create it fail the test.
inline std::optional<TestDatabase> make_test_database(bool migrated = true, int pool_size = 4) {
  auto server = pg_url_for_tests();
  if (!server) return std::nullopt;
  auto scratch = ScratchDatabase::create(*server);
  REQUIRE_MESSAGE(scratch.is_ok(), scratch.status().to_string());
  TestDatabase t;
  t.db.emplace(std::move(scratch).value());
  PgOptions options;
  options.url = t.db->url();
  options.pool_size = pool_size;
  auto pool = PgPool::connect(options);
  REQUIRE_MESSAGE(pool.is_ok(), pool.status().to_string());
  t.pool = std::move(pool).value();
  if (migrated) {
    Status st = migrate(*t.pool);
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
  }
  return t;
}

}  // namespace scn::db::testing
