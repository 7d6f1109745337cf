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

TEST_CASE("leader: an unreachable server is no leadership, never an exception") {
  LeaderLock l("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1");
  CHECK(!l.poll());
  CHECK(!l.is_leader());
}

}  // namespace
}  // namespace scn::scheduler
