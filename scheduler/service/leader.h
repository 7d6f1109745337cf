// Leadership among scheduler instances: a PostgreSQL session-level advisory
// lock held on a connection of its own.
//
// Contract:
//  - poll() tries to become leader (pg_try_advisory_lock on a dedicated
//    connection, opened when needed) or, when leading, checks that the
//    connection still works. It returns whether this instance leads now.
//    Any failure (server gone, connection broken) drops the connection and
//    with it the lock: the instance is no longer leader, and a later poll()
//    tries again. Standbys call poll() about every second.
//  - The lock belongs to the connection's session (not to a PgPool
//    connection, which would be shared by transactions): it is released by
//    release() (closing the connection) or when the process dies.
//  - Never throws. Not thread-safe: one thread polls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace scn::scheduler {

// The advisory lock key of `scn scheduler` ("scnsched" as a big-endian int64).
inline constexpr int64_t kSchedulerLockKey = 0x73636e7363686564;

class LeaderLock {
 public:
  explicit LeaderLock(std::string pg_url, int64_t key = kSchedulerLockKey);
  ~LeaderLock();
  LeaderLock(const LeaderLock&) = delete;
  LeaderLock& operator=(const LeaderLock&) = delete;

  bool poll();
  bool is_leader() const { return leader_; }
  // Gives up leadership (closes the connection).
  void release();

 private:
  std::string url_;
  int64_t key_;
  struct Connection;  // the pqxx connection (leader.cpp)
  std::unique_ptr<Connection> conn_;
  bool leader_ = false;
};

}  // namespace scn::scheduler
