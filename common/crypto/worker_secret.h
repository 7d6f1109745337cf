// Worker authentication (docs/API.md, "Worker authentication"): a `scn infer`
// replica started by an agent answers only requests that carry its own
// secret, which the scheduler hands to the agent and the brokers derive.
//
// Contract:
//  - worker_secret(key, replica_id) = lower-case hex of
//    HMAC-SHA256(key, replica_id) (OpenSSL HMAC): 64 characters.
//  - load_cluster_key(pool) returns the 32-byte cluster key of
//    cluster_secrets row 'worker_key' (sql/0009_worker_key.sql), inserting
//    32 random bytes first when the row is missing (INSERT ... ON CONFLICT
//    DO NOTHING, then SELECT), so every scheduler and broker of a database
//    gets the same key. Errors: the database's Status.
//  - WorkerSecrets caches the key (loaded on first need, retried after a
//    failure) and the derived secret per replica; thread-safe.
//  - worker_env(secret) is the environment of a supervised `scn infer` child:
//    {"SCN_WORKER_SECRET", secret} (nothing for an empty secret). The secret
//    is never put on a command line or in a log.
//  - bearer_matches(authorization, secret) is true when the header is
//    "Bearer <secret>" (scheme case-insensitive), compared in constant time.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace scn::db {
class PgPool;
}

namespace scn::crypto {

inline constexpr const char* kWorkerSecretEnv = "SCN_WORKER_SECRET";

std::string worker_secret(std::string_view cluster_key, std::string_view replica_id);

Result<std::string> load_cluster_key(db::PgPool& pool);

std::vector<std::pair<std::string, std::string>> worker_env(const std::string& secret);

bool bearer_matches(std::string_view authorization, std::string_view secret);

class WorkerSecrets {
 public:
  explicit WorkerSecrets(db::PgPool& pool) : pool_(pool) {}
  // Loads the cluster key now (when not loaded yet).
  Status load();
  // The replica's secret; the database's Status when the key cannot be loaded.
  Result<std::string> for_replica(const std::string& replica_id);
  // The same without a database call: nullopt until the cluster key was
  // loaded (for callers that must not block).
  std::optional<std::string> loaded_for_replica(const std::string& replica_id);

 private:
  db::PgPool& pool_;
  std::mutex mu_;
  std::string key_;  // "" until loaded
  std::map<std::string, std::string> cache_;
};

}  // namespace scn::crypto
