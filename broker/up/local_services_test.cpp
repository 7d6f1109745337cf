// Real PostgreSQL and Redis servers started in a scratch folder, as `scn up`
// starts them: they answer, a second start reuses the data and the ports,
// stop() closes them.
#include "broker/up/local_services.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "broker/up/ports.h"
#include "broker/up/up_files.h"
#include "common/db/pg.h"
#include "common/redis/redis.h"
#include "tests/testing.h"

namespace scn::broker {
namespace {

bool have_servers() {
  if (std::filesystem::exists("/usr/lib/postgresql/15/bin/initdb") || std::getenv("SCN_PG_BIN") != nullptr)
    return true;
  if (scn::testing::in_ci()) FAIL("PostgreSQL 15 is not installed (scripts/install-deps.sh)");
  MESSAGE("SKIPPED: PostgreSQL 15 is not installed");
  return false;
}

Status sql(const std::string& url, const std::string& statement) {
  db::PgOptions o;
  o.url = url;
  o.pool_size = 1;
  SCN_ASSIGN_OR_RETURN(auto pool, db::PgPool::connect(o));
  return pool->with_tx([&](pqxx::work& tx) -> Status {
    tx.exec(statement);
    return Status::ok();
  });
}

TEST_CASE("scn up: local PostgreSQL and Redis start, restart on the same data and ports, stop") {
  if (!have_servers()) return;
  scn::testing::TempDir dir;
  int pg_port = 0, redis_port = 0;
  {
    auto s = LocalServices::start(dir.path());
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    auto& services = **s;
    CHECK(services.pg_url().rfind("postgresql://postgres@127.0.0.1:", 0) == 0);
    Status st = sql(services.pg_url(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");
    REQUIRE_MESSAGE(st.is_ok(), st.to_string());
    auto redis = redis::RedisClient::connect(services.redis_url());
    REQUIRE(redis.is_ok());
    auto pong = (*redis)->command({"PING"});
    REQUIRE(pong.is_ok());
    CHECK(pong->str == "PONG");
    auto record = read_json_file(dir.path() / "up.json");
    REQUIRE(record.is_ok());
    pg_port = static_cast<int>(record->at("pg_port").as_int64());
    redis_port = static_cast<int>(record->at("redis_port").as_int64());
    CHECK(port_listening(pg_port));
    CHECK(port_listening(redis_port));
    REQUIRE(services.stop().is_ok());
    CHECK_FALSE(port_listening(pg_port));
    CHECK_FALSE(port_listening(redis_port));
  }
  {
    auto s = LocalServices::start(dir.path());
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    // The data survived; the ports are the recorded ones (free again).
    Status st =
        sql((*s)->pg_url(), "DO $$ BEGIN IF (SELECT x FROM kept) <> 42 THEN RAISE 'lost'; END IF; END $$");
    CHECK_MESSAGE(st.is_ok(), st.to_string());
    CHECK((*s)->pg_url() == "postgresql://postgres@127.0.0.1:" + std::to_string(pg_port) + "/scn");
    CHECK((*s)->redis_url() == "redis://127.0.0.1:" + std::to_string(redis_port) + "/0");
  }  // the destructor stops both
  CHECK_FALSE(port_listening(pg_port));
  CHECK_FALSE(port_listening(redis_port));
}

TEST_CASE("scn up: a missing PostgreSQL installation is a clear error") {
  scn::testing::TempDir dir;
  ::setenv("SCN_PG_BIN", "/nonexistent/pg/bin", 1);
  auto pg = LocalPostgres::start(dir.path());
  ::unsetenv("SCN_PG_BIN");
  REQUIRE_FALSE(pg.is_ok());
  CHECK(pg.status().code() == Code::kNotFound);
  CHECK(pg.status().message().find("/nonexistent/pg/bin") != std::string::npos);
}

}  // namespace
}  // namespace scn::broker
