// A Redis client (hiredis, RESP2) whose failures are Status values.
//
// Contract:
//  - Addresses are URLs: redis://[[user]:password@]host[:port][/db]
//    (port 6379 and db 0 by default). Anything else is kInvalidArgument.
//  - RedisClient holds ONE connection, guarded by a mutex: it may be shared
//    by threads, whose commands then run one after the other. For parallel
//    traffic, make one client per thread (they are cheap).
//  - Every command waits at most `command_timeout`; connecting at most
//    `connect_timeout`. A connection that failed (I/O error, timeout) is
//    dropped: that call returns kUnavailable and the next call reconnects
//    (AUTH and SELECT are repeated). Before each command a connection the
//    server has closed since (restart, CLIENT KILL, idle timeout) is noticed
//    and replaced, so a server restart costs no failed call once the server
//    is back.
//  - Replies are typed (Reply); a Redis error reply is a Status, never a
//    Reply: NOSCRIPT -> kNotFound, WRONGTYPE -> kConflict, NOAUTH/WRONGPASS
//    -> kUnauthenticated, LOADING/BUSY/MASTERDOWN/TRYAGAIN -> kUnavailable,
//    other errors (bad arguments, Lua runtime errors) -> kInternal; the
//    message starts with "redis: " and carries the server's text.
//  - Keys, values and arguments are binary-safe.
//  - RedisSubscriber runs a blocking receive loop on its own connection (a
//    subscribed connection can do nothing else), resubscribing after a lost
//    connection until stop().
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

struct redisContext;

namespace scn::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // Redis 6 ACL user; empty: "default"
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::string client_name;  // CLIENT SETNAME on every connect when not empty
};

// Fills host, port, db, username and password from `url`; the timeouts and
// client name keep their defaults.
Result<RedisOptions> parse_redis_url(std::string_view url);

// A non-error reply.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;              // kString (bulk) and kStatus ("OK")
  long long integer = 0;        // kInteger
  std::vector<Reply> elements;  // kArray (an error inside one, as from EXEC, is a kStatus element)

  bool is_nil() const { return type == Type::kNil; }
  bool is_string() const { return type == Type::kString; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_array() const { return type == Type::kArray; }
  // A readable rendering for messages and tests: "nil", "\"abc\"", "42", "[1, \"a\"]".
  std::string debug_string() const;
};

// A Lua script with its SHA-1, for run_script().
class LuaScript {
 public:
  explicit LuaScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  // lower-case hex

 private:
  std::string source_;
  std::string sha1_;
};

struct SetOptions {
  enum class Condition { kAlways, kIfAbsent /* NX */, kIfPresent /* XX */ };
  std::optional<std::chrono::milliseconds> ttl;  // PX when given
  Condition condition = Condition::kAlways;
};

class RedisClient {
 public:
  // Connects now (so a wrong address fails here, kUnavailable).
  static Result<std::unique_ptr<RedisClient>> connect(std::string_view url);
  static Result<std::unique_ptr<RedisClient>> connect(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Any command, e.g. command({"LPUSH", key, value}).
  Result<Reply> command(const std::vector<std::string>& args);

  Status ping();
  // nullopt when the key does not exist.
  Result<std::optional<std::string>> get(std::string_view key);
  // false when the NX / XX condition was not met (nothing written).
  Result<bool> set(std::string_view key, std::string_view value, const SetOptions& options = {});
  // How many of the keys existed.
  Result<long long> del(const std::vector<std::string>& keys);
  // PEXPIRE; false when the key does not exist.
  Result<bool> expire(std::string_view key, std::chrono::milliseconds ttl);
  // PTTL: the remaining milliseconds, -1 when the key has no TTL, -2 when it does not exist.
  Result<long long> pttl(std::string_view key);
  Result<long long> incr_by(std::string_view key, long long delta);
  // How many fields were new.
  Result<long long> hset(std::string_view key,
                         const std::vector<std::pair<std::string, std::string>>& fields);
  // Empty when the key does not exist.
  Result<std::map<std::string, std::string>> hgetall(std::string_view key);

  Result<Reply> eval(std::string_view script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  // kNotFound (NOSCRIPT) when the server does not hold the script.
  Result<Reply> evalsha(std::string_view sha1, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args);
  // SCRIPT LOAD; returns the SHA-1.
  Result<std::string> script_load(std::string_view script);
  // EVALSHA, falling back to EVAL when the server does not hold the script
  // (after a restart or SCRIPT FLUSH).
  Result<Reply> run_script(const LuaScript& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args);

  // How many subscribers received the message.
  Result<long long> publish(std::string_view channel, std::string_view message);
  // Removes every key of this client's database (tests, `scn up` resets).
  Status flushdb();

  const RedisOptions& options() const { return options_; }

 private:
  explicit RedisClient(RedisOptions options);
  Status ensure_connected();  // mu_ held
  void disconnect();          // mu_ held
  Result<Reply> run(const std::vector<std::string_view>& args);

  RedisOptions options_;
  std::mutex mu_;
  redisContext* ctx_ = nullptr;
};

struct PubSubMessage {
  std::string channel;  // the channel it was published on
  std::string pattern;  // the matching pattern for PSUBSCRIBE deliveries, else empty
  std::string payload;
};

class RedisSubscriber {
 public:
  using MessageHandler = std::function<void(const PubSubMessage&)>;

  explicit RedisSubscriber(RedisOptions options);
  static Result<std::unique_ptr<RedisSubscriber>> create(std::string_view url);
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  // Subscribes to `channels` and `patterns` (at least one in all) and calls
  // on_message for each message, on this thread, until stop(). Whenever the
  // subscriptions are (re)established, on_subscribed is called first: what
  // was published while disconnected is lost, so callers resynchronise
  // there. A lost connection is retried (back-off up to 1 s) until stop().
  // Returns OK after stop(); an error for bad arguments or when the server
  // refuses the subscription (e.g. kUnauthenticated).
  Status run(const std::vector<std::string>& channels, const std::vector<std::string>& patterns,
             const MessageHandler& on_message, const std::function<void()>& on_subscribed = {});

  // Makes run() return soon (from any thread, also before run() started).
  // Final: a stopped subscriber does not run again.
  void stop();

 private:
  enum class Outcome { kStopped, kConnectionLost, kRefused };
  Outcome session(const std::vector<std::string>& channels,
                  const std::vector<std::string>& patterns, const MessageHandler& on_message,
                  const std::function<void()>& on_subscribed, Status* error);
  bool wait_stop(std::chrono::milliseconds d);  // true when stopped

  RedisOptions options_;
  std::atomic<bool> stopped_{false};
  int wake_fds_[2] = {-1, -1};  // a pipe: stop() writes, the loop polls
};

}  // namespace scn::redis
