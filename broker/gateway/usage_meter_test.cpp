#include "broker/gateway/usage_meter.h"

#include <doctest/doctest.h>

#include <thread>

#include "broker/gateway/gateway_test_fixture.h"
#include "common/db/test_db.h"

namespace scn::broker {
namespace {
using namespace scn::broker::testing;
}  // namespace

TEST_CASE("UsageMeter: one row per key per flush, counts summed, failures kept") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  const std::string t = add_tenant(pg, "acme");
  const std::string key1 = add_api_key(pg, t, "scn-key-one");
  const std::string key2 = add_api_key(pg, t, "scn-key-two");
  const std::string s1 = add_service(pg, t, "chat");
  const std::string s2 = add_service(pg, t, "other");

  UsageMeter meter(pg);
  CHECK(meter.flush().is_ok());  // nothing to write
  meter.record({t, s1, key1, "", ""}, {1, 10, 0, 20});
  meter.record({t, s1, key1, "", ""}, {1, 5, 0, 6});
  meter.record({t, s1, key2, "", ""}, {1, 1, 0, 1});
  meter.record({t, s2, "", "", ""}, {1, 2, 0, 3});
  CHECK(meter.pending() == 3);
  REQUIRE(meter.flush().is_ok());
  CHECK(meter.pending() == 0);
  CHECK(sql_one(pg, "SELECT count(*) FROM usage_records") == "3");
  CHECK(sql_one(pg, "SELECT requests || '/' || prompt_tokens || '/' || completion_tokens FROM usage_records"
                    " WHERE service_id = " + quote(s1) + " AND api_key_id = " + quote(key1)) == "2/15/26");
  CHECK(sql_one(pg, "SELECT requests || '/' || prompt_tokens || '/' || completion_tokens FROM usage_records"
                    " WHERE service_id = " + quote(s2) + " AND api_key_id IS NULL") == "1/2/3");
  CHECK(sql_one(pg, "SELECT bool_and(period_start <= period_end) FROM usage_records") == "t");

  // Model, center and cached prompt tokens are kept apart per key; a center
  // that is not a uuid (a route from Redis without one) is stored as NULL.
  const std::string center = "11111111-2222-3333-4444-555555555555";
  meter.record({t, s1, key1, "stories260K", center}, {2, 30, 12, 4});
  meter.record({t, s1, key1, "stories260K", center}, {1, 10, 3, 1});
  meter.record({t, s1, key1, "stories260K", "c-from-redis"}, {1, 1, 1, 1});
  REQUIRE(meter.flush().is_ok());
  CHECK(sql_one(pg, "SELECT requests || '/' || prompt_tokens || '/' || cached_prompt_tokens || '/' ||"
                    " completion_tokens || '/' || model FROM usage_records WHERE center_id = " + quote(center)) ==
        "3/40/15/5/stories260K");
  CHECK(sql_one(pg, "SELECT count(*) FROM usage_records WHERE model = 'stories260K' AND center_id IS NULL") == "1");
  sql_one(pg, "DELETE FROM usage_records WHERE model IS NOT NULL RETURNING 1");

  // A batch that cannot be written (a malformed id makes the transaction
  // fail) stays, merged with later counts, and nothing of it is written.
  meter.record({t, s1, key1, "", ""}, {1, 1, 0, 1});
  meter.record({"not-a-uuid", s1, "", "", ""}, {1, 1, 0, 1});
  CHECK_FALSE(meter.flush().is_ok());
  CHECK(meter.pending() == 2);
  CHECK(sql_one(pg, "SELECT count(*) FROM usage_records") == "3");
  meter.record({t, s1, key1, "", ""}, {1, 2, 0, 2});
  CHECK(meter.pending() == 2);
  CHECK_FALSE(meter.flush().is_ok());
}

TEST_CASE("UsageMeter: the flusher thread writes every period and on stop") {
  auto db = db::testing::make_test_database();
  if (!db) return;
  db::PgPool& pg = **db;
  const std::string t = add_tenant(pg, "acme");
  const std::string s = add_service(pg, t, "chat");
  UsageMeter meter(pg);
  meter.start(std::chrono::milliseconds(50));
  meter.record({t, s, "", "", ""}, {1, 3, 0, 4});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sql_one(pg, "SELECT count(*) FROM usage_records") != "1" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(sql_one(pg, "SELECT count(*) FROM usage_records") == "1");
  meter.record({t, s, "", "", ""}, {2, 1, 0, 1});
  meter.stop();  // flushes what is left
  CHECK(sql_one(pg, "SELECT sum(requests) FROM usage_records") == "3");
  // A service deleted meanwhile: its counts are dropped, not retried forever.
  UsageMeter other(pg);
  other.record({t, "00000000-0000-0000-0000-000000000000", "", "", ""}, {1, 1, 0, 1});
  CHECK(other.flush().is_ok());
  CHECK(other.pending() == 0);
}

}  // namespace scn::broker
