#include "common/db/pg.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/db/test_db.h"
#include "tests/testing.h"

namespace scn::db {
namespace {

using testing::make_test_database;

Status exec(PgPool& pool, const std::string& sql) {
  return pool.with_tx([&](pqxx::work& tx) {
    tx.exec(sql);
    return Status::ok();
  });
}

long long count(PgPool& pool, const std::string& sql) {
  auto r = pool.with_tx([&](pqxx::work& tx) -> Result<long long> {
    return tx.exec1(sql)[0].as<long long>();
  });
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

TEST_CASE("PgPool::connect rejects malformed URLs and reports unreachable servers") {
  PgOptions bad;
  bad.url = "postgresql://host:notaport/db";
  auto r = PgPool::connect(bad);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kInvalidArgument);

  bad.url = "postgresql://h/d?nosuchparam=1";
  CHECK(PgPool::connect(bad).status().code() == Code::kInvalidArgument);
  bad.url = "";
  CHECK(PgPool::connect(bad).status().code() == Code::kInvalidArgument);

  PgOptions down;
  down.url = "postgresql://postgres:secret@127.0.0.1:" + std::to_string(scn::testing::free_port()) + "/scn";
  down.connect_timeout_s = 2;
  auto d = PgPool::connect(down);
  REQUIRE_FALSE(d.is_ok());
  CHECK(d.status().code() == Code::kUnavailable);
  CHECK(d.status().message().find("secret") == std::string::npos);  // password redacted
  CHECK(d.status().message().find("postgresql://postgres:***@127.0.0.1") != std::string::npos);
}

TEST_CASE("redact_pg_url hides the password in both URL forms") {
  CHECK(redact_pg_url("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d");
  CHECK(redact_pg_url("host=h port=5 user=u password=pw dbname=d") == "postgresql://u:***@h:5/d");
  CHECK(redact_pg_url("postgresql://h/d") == "postgresql://h/d");
  CHECK(redact_pg_url("postgresql://h/d?nosuchparam=1") == "(invalid PostgreSQL URL)");
}

TEST_CASE("with_tx returns values and commits") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  REQUIRE(exec(**db, "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)").is_ok());
  auto id = (*db)->with_tx([](pqxx::work& tx) -> Result<int> {
    tx.exec_params("INSERT INTO t VALUES ($1, $2)", 7, "seven");
    return tx.exec1("SELECT id FROM t WHERE v = 'seven'")[0].as<int>();
  });
  REQUIRE(id.is_ok());
  CHECK(*id == 7);
  CHECK(count(**db, "SELECT count(*) FROM t") == 1);

  auto read_only = (*db)->with_tx(
      [](pqxx::work& tx) {
        tx.exec("INSERT INTO t VALUES (8, 'eight')");
        return Status::ok();
      },
      TxOptions{.read_only = true});
  CHECK(read_only.code() == Code::kInternal);  // 25006 read_only_sql_transaction
  CHECK(count(**db, "SELECT count(*) FROM t") == 1);
}

TEST_CASE("errors map onto status codes") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  REQUIRE(exec(**db, R"(
      CREATE TABLE parent (id int PRIMARY KEY, name text UNIQUE NOT NULL CHECK (name <> ''));
      CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id));
      INSERT INTO parent VALUES (1, 'one');
      INSERT INTO child VALUES (10, 1);)")
              .is_ok());
  struct Case {
    const char* sql;
    Code code;
    const char* message;  // substring
  };
  const Case cases[] = {
      {"INSERT INTO parent VALUES (2, 'one')", Code::kConflict, "parent_name_key"},
      {"INSERT INTO parent VALUES (1, 'uno')", Code::kConflict, "duplicate key"},
      {"INSERT INTO child VALUES (11, 99)", Code::kNotFound, "is not present"},
      {"DELETE FROM parent WHERE id = 1", Code::kConflict, "still referenced"},
      {"INSERT INTO parent VALUES (3, '')", Code::kInvalidArgument, "parent_name_check"},
      {"INSERT INTO parent VALUES (3, NULL)", Code::kInvalidArgument, "not-null"},
      {"SELECT 'abc'::int", Code::kInvalidArgument, "invalid input syntax"},
      {"SELECT 1/0", Code::kInvalidArgument, "division by zero"},
      {"SELEC 1", Code::kInternal, "syntax error"},
      {"SELECT * FROM missing_table", Code::kInternal, "missing_table"},
      {"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$", Code::kConflict, ""},
      {"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$", Code::kConflict, ""},
      {"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '57P01'; END $$", Code::kUnavailable, ""},
      {"SET LOCAL statement_timeout = 10; SELECT pg_sleep(1)", Code::kUnavailable, "timeout"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.sql);
    Status st = exec(**db, c.sql);
    CHECK(st.code() == c.code);
    CHECK_MESSAGE(st.message().find(c.message) != std::string::npos, st.message());
  }
  Status fk = exec(**db, "INSERT INTO child VALUES (12, 42)");
  CHECK(fk.message() ==
        "postgres: insert or update on table \"child\" violates foreign key constraint "
        "\"child_parent_id_fkey\" (Key (parent_id)=(42) is not present in table \"parent\".) "
        "[SQLSTATE 23503]");
  // Nothing of the failed statements was written; the pool still works.
  CHECK(count(**db, "SELECT count(*) FROM parent") == 1);
  CHECK(count(**db, "SELECT count(*) FROM child") == 1);
}

TEST_CASE("a failed transaction leaves nothing half-written") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  REQUIRE(exec(**db, "CREATE TABLE t (id int PRIMARY KEY)").is_ok());

  SUBCASE("fn returns an error after writing") {
    Status st = (*db)->with_tx([](pqxx::work& tx) {
      tx.exec("INSERT INTO t VALUES (1), (2)");
      return Status::conflict("changed my mind");
    });
    CHECK(st.code() == Code::kConflict);
    CHECK(st.message() == "changed my mind");
  }
  SUBCASE("a later statement violates a constraint") {
    Status st = (*db)->with_tx([](pqxx::work& tx) {
      tx.exec("INSERT INTO t VALUES (1), (2)");
      tx.exec("INSERT INTO t VALUES (2)");
      return Status::ok();
    });
    CHECK(st.code() == Code::kConflict);
  }
  SUBCASE("fn throws something that is not from pqxx") {
    Status st = (*db)->with_tx([](pqxx::work& tx) -> Status {
      tx.exec("INSERT INTO t VALUES (1), (2)");
      throw std::runtime_error("boom");
    });
    CHECK(st.code() == Code::kInternal);
    CHECK(st.message().find("boom") != std::string::npos);
  }
  SUBCASE("a Result<T> error") {
    auto r = (*db)->with_tx([](pqxx::work& tx) -> Result<int> {
      tx.exec("INSERT INTO t VALUES (1), (2)");
      return Status::not_found("no such thing");
    });
    CHECK(r.status().code() == Code::kNotFound);
  }
  CHECK(count(**db, "SELECT count(*) FROM t") == 0);
}

TEST_CASE("max_attempts retries serialization failures") {
  auto db = make_test_database(/*migrated=*/false);
  if (!db) return;
  int calls = 0;
  auto body = [&](pqxx::work& tx) -> Result<int> {
    ++calls;
    if (calls < 3) tx.exec("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$");
    return calls;
  };
  auto r = (*db)->with_tx(body, TxOptions{.isolation = Isolation::kSerializable, .max_attempts = 3});
  REQUIRE(r.is_ok());
  CHECK(*r == 3);

  calls = 0;
  auto once = (*db)->with_tx(body, TxOptions{.max_attempts = 2});
  CHECK(once.status().code() == Code::kConflict);
  CHECK(calls == 2);

  auto level = (*db)->with_tx(
      [](pqxx::work& tx) -> Result<std::string> {
        return tx.exec1("SHOW transaction_isolation")[0].as<std::string>();
      },
      TxOptions{.isolation = Isolation::kRepeatableRead});
  REQUIRE(level.is_ok());
  CHECK(*level == "repeatable read");
}

TEST_CASE("the pool serves concurrent transactions with at most pool_size connections") {
  auto db = make_test_database(/*migrated=*/false, /*pool_size=*/3);
  if (!db) return;
  REQUIRE(exec(**db, "CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0)").is_ok());
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  std::atomic<int> failures{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Status st = (*db)->with_tx([&](pqxx::work& tx) {
          int now = ++in_flight;
          int seen = max_in_flight.load();
          while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
          }
          tx.exec("UPDATE counter SET n = n + 1");
          --in_flight;
          return Status::ok();
        });
        if (!st.is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(count(**db, "SELECT n FROM counter") == kThreads * kEach);
  CHECK(max_in_flight.load() <= 3);
  CHECK((*db)->open_connections() <= 3);
  CHECK(count(**db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'scn'") <= 3);
}

TEST_CASE("a caller waits at most acquire_timeout for a connection") {
  auto server = testing::pg_url_for_tests();
  if (!server) return;
  auto scratch = ScratchDatabase::create(*server);
  REQUIRE(scratch.is_ok());
  PgOptions options;
  options.url = scratch->url();
  options.pool_size = 1;
  options.acquire_timeout = std::chrono::milliseconds(100);
  auto pool = PgPool::connect(options);
  REQUIRE(pool.is_ok());
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    Status st = (*pool)->with_tx([&](pqxx::work& tx) {
      holding = true;
      tx.exec("SELECT pg_sleep(0.6)");
      return Status::ok();
    });
    CHECK(st.is_ok());
  });
  while (!holding) std::this_thread::yield();
  Status st = (*pool)->with_tx([](pqxx::work&) { return Status::ok(); });
  CHECK(st.code() == Code::kUnavailable);
  CHECK(st.message().find("no free connection") != std::string::npos);
  holder.join();
  CHECK((*pool)->with_tx([](pqxx::work&) { return Status::ok(); }).is_ok());
}

TEST_CASE("a connection the server dropped is replaced transparently") {
  auto db = make_test_database(/*migrated=*/false, /*pool_size=*/1);
  if (!db) return;
  auto pid = (*db)->with_tx([](pqxx::work& tx) -> Result<int> {
    return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  });
  REQUIRE(pid.is_ok());
  // Kill that backend from another connection, as a server restart would.
  PgOptions other;
  other.url = db->db->url();
  other.pool_size = 1;
  auto killer = PgPool::connect(other);
  REQUIRE(killer.is_ok());
  auto killed = (*killer)->with_tx([&](pqxx::work& tx) -> Result<bool> {
    return tx.exec_params1("SELECT pg_terminate_backend($1)", *pid)[0].as<bool>();
  });
  REQUIRE(killed.is_ok());
  CHECK(*killed);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  auto again = (*db)->with_tx([](pqxx::work& tx) -> Result<int> {
    return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  });
  REQUIRE_MESSAGE(again.is_ok(), again.status().to_string());
  CHECK(*again != *pid);

  // with_connection also notices it.
  auto pid2 = *again;
  REQUIRE((*killer)
              ->with_tx([&](pqxx::work& tx) {
                tx.exec_params("SELECT pg_terminate_backend($1)", pid2);
                return Status::ok();
              })
              .is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Status st = (*db)->with_connection([](pqxx::connection& c) {
    pqxx::nontransaction n(c);
    n.exec("SELECT 1");
    return Status::ok();
  });
  CHECK_MESSAGE(st.is_ok(), st.to_string());
}

}  // namespace
}  // namespace scn::db
