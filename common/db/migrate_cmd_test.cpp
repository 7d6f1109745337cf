#include "common/db/migrate_cmd.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/db/test_db.h"

namespace scn::db {
namespace {

int run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return migrate_main(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("scn migrate: applies the embedded migrations once, then nothing") {
  auto t = testing::make_test_database(/*migrated=*/false, 1);
  if (!t) return;
  CHECK(schema_version(**t).value() == 0);
  CHECK(run({"migrate", "--pg-url", t->db->url()}) == 0);
  const int latest = embedded_migrations().back().version;
  CHECK(schema_version(**t).value() == latest);
  CHECK(run({"migrate", "--pg-url", t->db->url()}) == 0);  // idempotent
  CHECK(schema_version(**t).value() == latest);
}

TEST_CASE("scn migrate: usage and connection errors") {
  // (--pg-url may also come from SCN_PG_URL, which the test run sets.)
  CHECK(run({"migrate", "--bogus"}) == 2);
  CHECK(run({"migrate", "--pg-url", "postgresql://127.0.0.1:1/none"}) == 1);  // nothing listens
}

}  // namespace
}  // namespace scn::db
