#include "scheduler/service/leader.h"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "common/db/test_db.h"

namespace scn::scheduler {
namespace {

// The server drops a closed session's locks a moment after the client closed
// it; standbys poll every second, the test a little faster.
bool poll_for(LeaderLock& lock, std::chrono::milliseconds within) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (!lock.poll()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST_CASE("leader: a second instance leads only once the first one's connection is gone") {
  auto db = db::testing::make_test_database(/*migrated=*/false, /*pool_size=*/1);
  if (!db) return;
  LeaderLock a(db->db->url());
  LeaderLock b(db->db->url());
  CHECK(a.poll());
  CHECK(a.is_leader());
  CHECK(!b.poll());
  CHECK(a.poll());  // still leading: the connection is checked
  CHECK(!b.poll());
  a.release();
  CHECK(!a.is_leader());
  CHECK(poll_for(b, std::chrono::milliseconds(3000)));
  CHECK(!a.poll());
  b.release();
  CHECK(poll_for(a, std::chrono::milliseconds(3000)));
}

TEST_CASE("leader: a frozen leader (its session idle past stale_after) is deposed by a standby") {
  auto db = db::testing::make_test_database(/*migrated=*/false, /*pool_size=*/1);
  if (!db) return;
  // Another database on the same server has its own leader under the same
  // key, polling all along: advisory locks are per database, so it neither
  // hides a's staleness nor is deposed.
  auto other = db::testing::make_test_database(/*migrated=*/false, /*pool_size=*/1);
  REQUIRE(other);
  const auto stale = std::chrono::milliseconds(600);
  LeaderLock c(other->db->url(), kSchedulerLockKey, stale);
  CHECK(c.poll());
  LeaderLock a(db->db->url(), kSchedulerLockKey, stale);
  LeaderLock b(db->db->url(), kSchedulerLockKey, stale);
  CHECK(a.poll());
  // a keeps polling (a live leader): b never takes over.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CHECK(a.poll());
    CHECK(!b.poll());
  }
  // a stops polling (frozen) but keeps its connection: after stale_after
  // b ends a's session and leads.
  CHECK(!b.poll());
  for (int i = 0; i < 6; ++i) {  // a silent for stale + 300 ms; c keeps polling
    std::this_thread::sleep_for((stale + std::chrono::milliseconds(300)) / 6);
    CHECK(c.poll());
  }
  CHECK(b.poll());
  CHECK(b.is_leader());
  // a, thawed, finds its connection gone and does not lead.
  CHECK(!a.poll());
  CHECK(!a.is_leader());
  CHECK(!a.poll());
  CHECK(b.poll());
  CHECK(c.poll());  // the other database's leader was left alone
  CHECK(c.is_leader());
}

TEST_CASE("leader: an unreachable server is no leadership, never an exception") {
  LeaderLock l("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1");
  CHECK(!l.poll());
  CHECK(!l.is_leader());
}

}  // namespace
}  // namespace scn::scheduler
