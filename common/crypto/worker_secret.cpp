#include "common/crypto/worker_secret.h"

#include <cctype>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"

namespace scn::crypto {

std::string worker_secret(std::string_view cluster_key, std::string_view replica_id) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), cluster_key.data(), static_cast<int>(cluster_key.size()),
       reinterpret_cast<const unsigned char*>(replica_id.data()), replica_id.size(), mac, &len);
  return to_hex(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Result<std::string> load_cluster_key(db::PgPool& pool) {
  SCN_ASSIGN_OR_RETURN(std::string fresh, random_bytes(32));
  return pool.with_tx([&](pqxx::work& tx) -> Result<std::string> {
    tx.exec_params(
        "INSERT INTO cluster_secrets (name, value) VALUES ('worker_key', decode($1, 'hex')) "
        "ON CONFLICT (name) DO NOTHING",
        to_hex(fresh));
    pqxx::result r =
        tx.exec("SELECT encode(value, 'hex') FROM cluster_secrets WHERE name = 'worker_key'");
    if (r.empty()) return Status::internal("cluster_secrets has no worker_key");
    std::string hex = r[0][0].as<std::string>();
    std::string key;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      key.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return key;
  });
}

std::vector<std::pair<std::string, std::string>> worker_env(const std::string& secret) {
  if (secret.empty()) return {};
  return {{kWorkerSecretEnv, secret}};
}

bool bearer_matches(std::string_view authorization, std::string_view secret) {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  if (authorization.size() < 7) return false;
  std::string scheme(authorization.substr(0, 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return false;
  authorization.remove_prefix(7);
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  // Compare digests so that the time does not depend on where they differ
  // nor leak the secret's length.
  return constant_time_equals(sha256(authorization), sha256(secret)) && !secret.empty();
}

Status WorkerSecrets::load() {
  {
    std::lock_guard lock(mu_);
    if (!key_.empty()) return Status::ok();
  }
  SCN_ASSIGN_OR_RETURN(std::string key, load_cluster_key(pool_));
  std::lock_guard lock(mu_);
  if (key_.empty()) key_ = std::move(key);
  return Status::ok();
}

std::optional<std::string> WorkerSecrets::loaded_for_replica(const std::string& replica_id) {
  std::lock_guard lock(mu_);
  if (key_.empty()) return std::nullopt;
  auto it = cache_.find(replica_id);
  if (it != cache_.end()) return it->second;
  if (cache_.size() > 100000) cache_.clear();
  std::string s = worker_secret(key_, replica_id);
  cache_.emplace(replica_id, s);
  return s;
}

Result<std::string> WorkerSecrets::for_replica(const std::string& replica_id) {
  SCN_RETURN_IF_ERROR(load());
  std::lock_guard lock(mu_);
  auto it = cache_.find(replica_id);
  if (it != cache_.end()) return it->second;
  if (cache_.size() > 100000) cache_.clear();  // bounded: replica ids come and go
  std::string s = worker_secret(key_, replica_id);
  cache_.emplace(replica_id, s);
  return s;
}

}  // namespace scn::crypto
