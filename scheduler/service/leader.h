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
//  - A frozen leader (SIGSTOP, a hung host whose TCP connection stays open)
//    keeps its session and so its lock. The leader runs a statement on the
//    lock connection at every poll (every reconcile period), so a standby
//    whose try-lock fails looks at the holder's session: idle for longer
//    than `stale_after` means the holder has stopped polling. The standby
//    then ends that session (pg_terminate_backend: the same role, or one
//    with pg_signal_backend) and takes the lock. The deposed process finds
//    its connection gone at its next poll and stands by; writes it had in
//    flight are refused by the epoch the new leader takes (fencing.h).
//  - Never throws. Not thread-safe: one thread polls.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace pqxx {
class nontransaction;
}

namespace scn::scheduler {

// The advisory lock key of `scn scheduler` ("scnsched" as a big-endian int64).
inline constexpr int64_t kSchedulerLockKey = 0x73636e7363686564;
// How long the holder's lock session may sit idle before a standby deposes it.
inline constexpr std::chrono::milliseconds kLeaderStaleAfter{10000};

class LeaderLock {
 public:
  explicit LeaderLock(std::string pg_url, int64_t key = kSchedulerLockKey,
                      std::chrono::milliseconds stale_after = kLeaderStaleAfter);
  ~LeaderLock();
  LeaderLock(const LeaderLock&) = delete;
  LeaderLock& operator=(const LeaderLock&) = delete;

  bool poll();
  bool is_leader() const { return leader_; }
  // Gives up leadership (closes the connection).
  void release();

 private:
  // Not leading: ends the holder's session when it has been idle longer
  // than stale_after_. Returns whether it did. `tx` is open on conn_.
  bool depose_stale_holder(pqxx::nontransaction& tx);

  std::string url_;
  int64_t key_;
  std::chrono::milliseconds stale_after_;
  struct Connection;  // the pqxx connection (leader.cpp)
  std::unique_ptr<Connection> conn_;
  bool leader_ = false;
};

}  // namespace scn::scheduler
