#include "common/db/migrate.h"

#include <doctest/doctest.h>

#include <set>
#include <thread>
#include <vector>

#include "common/db/pg.h"
#include "common/db/test_db.h"

namespace scn::db {
namespace {

using testing::make_test_database;

std::set<std::string> tables(PgPool& pool) {
  auto r = pool.with_tx([](pqxx::work& tx) -> Result<std::set<std::string>> {
    std::set<std::string> out;
    for (const auto& row : tx.exec("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'public'"))
      out.insert(row[0].as<std::string>());
    return out;
  });
  REQUIRE(r.is_ok());
  return *r;
}

TEST_CASE("the embedded migrations are numbered 1, 2, ... and not empty") {
  auto ms = embedded_migrations();
  REQUIRE(!ms.empty());
  for (size_t i = 0; i < ms.size(); ++i) {
    CHECK(ms[i].version == static_cast<int>(i) + 1);
    CHECK(!ms[i].name.empty());
    CHECK(ms[i].sql.size() > 10);
  }
  CHECK(ms[0].name == "init");
  CHECK(ms[0].sql.find("CREATE TABLE tenants") != std::string_view::npos);
}

TEST_CASE("migrate applies the schema once and is idempotent") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  auto v0 = schema_version(**db);
  REQUIRE(v0.is_ok());
  CHECK(*v0 == 0);

  const int latest = embedded_migrations().back().version;
  auto first = apply_migrations(**db, embedded_migrations());
  REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
  CHECK(first->from_version == 0);
  CHECK(first->to_version == latest);
  CHECK(first->applied.size() == embedded_migrations().size());

  std::set<std::string> expected = {
      "schema_migrations", "tenants", "users", "sessions", "api_keys", "centers",
      "join_tokens", "nodes", "devices", "models", "model_files", "node_model_files",
      "services", "replicas", "usage_records", "audit_log"};
  auto have = tables(**db);
  for (const auto& t : expected) CHECK_MESSAGE(have.count(t), t);

  auto second = apply_migrations(**db, embedded_migrations());
  REQUIRE(second.is_ok());
  CHECK(second->applied.empty());
  CHECK(second->from_version == latest);
  CHECK(second->to_version == latest);
  CHECK(migrate(**db).is_ok());

  auto recorded = (*db)->with_tx([](pqxx::work& tx) -> Result<std::string> {
    return tx.exec1("SELECT name || ':' || length(checksum) FROM schema_migrations WHERE version = 1")[0]
        .as<std::string>();
  });
  REQUIRE(recorded.is_ok());
  CHECK(*recorded == "init:64");
}

TEST_CASE("migrate refuses a database newer than the binary") {
  auto db = make_test_database();
  if (!db) return;
  Status st = (*db)->with_tx([](pqxx::work& tx) {
    tx.exec("INSERT INTO schema_migrations (version, name, checksum) "
            "VALUES (9999, 'from_the_future', repeat('a', 64))");
    return Status::ok();
  });
  REQUIRE(st.is_ok());
  Status m = migrate(**db);
  CHECK(m.code() == Code::kConflict);
  CHECK(m.message().find("version 9999") != std::string::npos);
  CHECK(m.message().find("newer than this scn knows") != std::string::npos);
}

TEST_CASE("migrate refuses when an applied migration's text changed") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  const Migration v1[] = {{1, "one", "CREATE TABLE a (x int)"}};
  REQUIRE(apply_migrations(**db, v1).is_ok());
  const Migration edited[] = {{1, "one", "CREATE TABLE a (x bigint)"},
                              {2, "two", "CREATE TABLE b (x int)"}};
  auto r = apply_migrations(**db, edited);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kConflict);
  CHECK(r.status().message().find("0001_one.sql was changed") != std::string::npos);
  CHECK(tables(**db).count("b") == 0);
}

TEST_CASE("a failing migration is rolled back whole; the ones before stay") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  const Migration ms[] = {
      {1, "good", "CREATE TABLE a (x int); INSERT INTO a VALUES (1);"},
      {2, "bad", "CREATE TABLE b (x int); INSERT INTO b VALUES (1); SELECT 1/0;"},
      {3, "later", "CREATE TABLE c (x int);"},
  };
  auto r = apply_migrations(**db, ms);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kInvalidArgument);  // division by zero, 22012
  CHECK(r.status().message().find("migration 0002_bad.sql") != std::string::npos);
  auto have = tables(**db);
  CHECK(have.count("a") == 1);
  CHECK(have.count("b") == 0);
  CHECK(have.count("c") == 0);
  auto v = schema_version(**db);
  REQUIRE(v.is_ok());
  CHECK(*v == 1);

  const Migration fixed[] = {ms[0], {2, "bad", "CREATE TABLE b (x int);"}, ms[2]};
  auto again = apply_migrations(**db, fixed);
  REQUIRE_MESSAGE(again.is_ok(), again.status().to_string());
  CHECK(again->applied == std::vector<int>{2, 3});
}

TEST_CASE("processes migrating at the same time apply each migration once") {
  auto db = make_test_database(/*migrated=*/false, /*pool_size=*/4);
  if (!db) return;
  constexpr int kRacers = 4;
  std::vector<Result<MigrateOutcome>> results(kRacers, Status::internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] { results[i] = apply_migrations(**db, embedded_migrations()); });
  }
  for (auto& t : threads) t.join();
  size_t applied = 0;
  for (const auto& r : results) {
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    applied += r->applied.size();
  }
  CHECK(applied == embedded_migrations().size());
}

TEST_CASE("apply_migrations rejects a list that is not ascending") {
  auto db = make_test_database(/*migrated=*/false, /*pool_size=*/1);
  if (!db) return;
  const Migration ms[] = {{2, "b", "SELECT 1"}, {1, "a", "SELECT 1"}};
  CHECK(apply_migrations(**db, ms).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace scn::db
