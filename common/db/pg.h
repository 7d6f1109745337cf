// PgPool: a small pool of PostgreSQL connections (libpqxx 6.4) whose
// failures are Status values, never exceptions.
//
// Contract:
//  - PgPool::connect() validates the URL (kInvalidArgument when malformed)
//    and opens one connection (kUnavailable when the server cannot be
//    reached). The pool holds at most `pool_size` connections, opened
//    lazily; a caller waits up to `acquire_timeout` for a free one, then gets
//    kUnavailable.
//  - with_tx(fn) runs fn(pqxx::work&) in one transaction on one connection.
//    fn returns Status or Result<T>; an OK result commits, an error result
//    rolls back and is returned as is. Every exception thrown inside (by
//    pqxx or by fn) is caught here, rolls back, and becomes a Status:
//      unique / exclusion violation           -> kConflict
//      foreign key: referenced row missing    -> kNotFound
//      foreign key: row still referenced      -> kConflict
//      check / not-null / bad value (22xxx)   -> kInvalidArgument
//      serialization failure, deadlock        -> kConflict (after retries)
//      lost connection, server shutting down,
//        too many connections, commit unknown -> kUnavailable
//      anything else (SQL bugs, conversions)  -> kInternal
//    So nothing a failed transaction wrote is ever visible.
//  - fn may be called more than once: when a pooled connection turns out to
//    be broken (server restarted) the transaction is retried once on a fresh
//    connection, and TxOptions::max_attempts > 1 retries serialization
//    failures and deadlocks. fn must therefore only touch the database (and
//    its own locals).
//  - Broken connections are dropped and reopened on the next use.
//  - Thread-safe: any number of threads may call with_tx / with_connection
//    at once; one pqxx::work or connection is used by one thread at a time
//    and must not escape fn.
//  - Do not call with_tx from inside fn: it would need a second connection
//    (and with pool_size 1 waits acquire_timeout, then fails).
//  - Server notices are logged at debug level, not printed.
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"

namespace scn::db {

struct PgOptions {
  // postgresql://user[:password]@host[:port]/database[?param=value...] or a
  // libpq "key=value ..." string.
  std::string url;
  int pool_size = 4;
  std::chrono::milliseconds acquire_timeout{10000};
  int connect_timeout_s = 5;                        // unless the URL sets one
  std::chrono::milliseconds statement_timeout{0};  // 0: the server's default
  std::string application_name = "scn";             // unless the URL sets one
};

enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

struct TxOptions {
  Isolation isolation = Isolation::kReadCommitted;
  bool read_only = false;
  // Runs of fn on serialization failure / deadlock before giving up with kConflict.
  int max_attempts = 1;
};

// The Status for an exception thrown by libpqxx (or any std::exception), as
// in the table above.
Status pg_status(const std::exception& e);

// `url` with any password replaced by "***", for messages and logs.
std::string redact_pg_url(const std::string& url);

class PgPool {
 public:
  static Result<std::unique_ptr<PgPool>> connect(PgOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // fn: Status(pqxx::work&) or Result<T>(pqxx::work&); returns the same type.
  template <typename F>
  auto with_tx(F&& fn, const TxOptions& options = {})
      -> std::invoke_result_t<F&, pqxx::work&>;

  // Runs fn on a pooled connection outside any transaction (VACUUM, CREATE
  // DATABASE, LISTEN...). fn must leave the session as it found it (no
  // session-level locks or settings left behind). Same error mapping.
  Status with_connection(const std::function<Status(pqxx::connection&)>& fn);

  int pool_size() const { return static_cast<int>(slots_.size()); }
  // Connections currently open (idle or in use).
  int open_connections() const;
  const std::string& redacted_url() const { return redacted_url_; }

 private:
  struct Slot;
  class Lease;
  PgPool(PgOptions options, std::string conninfo);

  Status run_tx(const std::function<Status(pqxx::work&)>& body, const TxOptions& options);
  Result<Lease> acquire();
  void release(int slot);
  Status open(Slot& slot);   // (re)opens the slot's connection
  void close(Slot& slot);    // drops it

  PgOptions options_;
  std::string conninfo_;
  std::string redacted_url_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<int> free_;
  std::atomic<int> open_count_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
};

template <typename F>
auto PgPool::with_tx(F&& fn, const TxOptions& options)
    -> std::invoke_result_t<F&, pqxx::work&> {
  using R = std::invoke_result_t<F&, pqxx::work&>;
  if constexpr (std::is_same_v<R, Status>) {
    return run_tx([&](pqxx::work& tx) { return fn(tx); }, options);
  } else {
    std::optional<R> out;
    Status st = run_tx(
        [&](pqxx::work& tx) -> Status {
          out.reset();
          out.emplace(fn(tx));
          return out->status();
        },
        options);
    if (!st.is_ok()) return st;
    return std::move(*out);
  }
}

}  // namespace scn::db
