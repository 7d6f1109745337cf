#include "broker/api_key_auth.h"

#include <mutex>
#include <unordered_map>

#include "common/crypto/crypto.h"
#include "common/db/pg.h"
#include "common/log.h"

namespace scn::broker {
namespace {

constexpr std::size_t kMaxCachedKeys = 10000;
constexpr std::chrono::minutes kStaleIfError{10};  // see ApiKeyCache::authenticate

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view bearer_token(const http::Request& request) {
  std::string_view value = trim(request.header("Authorization"));
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !http::iequals(value.substr(0, kScheme.size()), kScheme) ||
      !is_space(value[kScheme.size()])) {
    return {};
  }
  std::string_view token = trim(value.substr(kScheme.size()));
  // A token is one word: "Bearer a b" is not a bearer credential.
  for (char c : token) {
    if (is_space(c)) return {};
  }
  return token;
}

namespace {
constexpr std::string_view kTenantSuspendedMessage =
    "tenant suspended: this tenant's API keys and changes are refused until an administrator reinstates it";
}  // namespace

Status tenant_suspended_status() { return Status::permission_denied(std::string(kTenantSuspendedMessage)); }

bool is_tenant_suspended(const Status& status) {
  return status.code() == Code::kPermissionDenied && status.message() == kTenantSuspendedMessage;
}

Result<Principal> authenticate_api_key(db::PgPool& pg, std::string_view key) {
  if (key.empty() || key.size() > 512) return Status::unauthenticated("invalid API key");
  const std::string hash_hex = crypto::to_hex(crypto::sha256(key));
  return pg.with_tx([&](pqxx::work& tx) -> Result<Principal> {
    pqxx::result r = tx.exec_params(
        "SELECT k.id, k.tenant_id, k.name, k.revoked_at IS NOT NULL,"
        "       k.expires_at IS NOT NULL AND k.expires_at <= now(), t.status,"
        "       k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'"
        "  FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
        " WHERE k.key_hash = decode($1, 'hex')",
        hash_hex);
    if (r.empty()) return Status::unauthenticated("invalid API key");
    const auto& row = r[0];
    if (row[3].as<bool>()) return Status::unauthenticated("API key revoked");
    if (row[4].as<bool>()) return Status::unauthenticated("API key expired");
    if (row[5].as<std::string>() != "active") return tenant_suspended_status();
    Principal p;
    p.kind = Principal::Kind::kApiKey;
    p.role = Role::kMember;
    p.api_key_id = row[0].as<std::string>();
    p.tenant_id = row[1].as<std::string>();
    p.username = row[2].as<std::string>();
    if (row[6].as<bool>()) {
      // At most once a minute per key, also across brokers (the condition is
      // re-checked under the row lock).
      tx.exec_params(
          "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
          " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
          p.api_key_id);
    }
    return p;
  });
}

struct ApiKeyCache::Impl {
  Impl(db::PgPool& p, std::chrono::milliseconds t) : pg(p), ttl(t) {}
  db::PgPool& pg;
  std::chrono::milliseconds ttl;
  std::mutex mu;
  struct Entry {
    Principal principal;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, Entry> entries;  // by sha256(key)
};

ApiKeyCache::ApiKeyCache(db::PgPool& pg, std::chrono::milliseconds ttl)
    : impl_(std::make_unique<Impl>(pg, ttl)) {}

ApiKeyCache::~ApiKeyCache() = default;

std::optional<Principal> ApiKeyCache::cached(std::string_view key) {
  if (key.empty()) return std::nullopt;
  const std::string id = crypto::sha256(key);
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->entries.find(id);
  if (it == impl_->entries.end() || it->second.expires <= std::chrono::steady_clock::now()) return std::nullopt;
  return it->second.principal;
}

Result<Principal> ApiKeyCache::authenticate(std::string_view key) {
  if (key.empty()) return Status::unauthenticated("invalid API key");
  const std::string id = crypto::sha256(key);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->entries.find(id);
    if (it != impl_->entries.end() && it->second.expires > now) return it->second.principal;
  }
  auto result = authenticate_api_key(impl_->pg, key);
  if (!result.is_ok()) {
    if (result.status().code() != Code::kUnauthenticated && !is_tenant_suspended(result.status())) {
      common::log_warn("api key look-up failed: ", result.status().to_string());
    }
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->entries.find(id);
    if (it == impl_->entries.end()) return result;
    // PostgreSQL unreachable (a restart): a key that was valid a moment ago
    // keeps working for kStaleIfError; any definite answer replaces it.
    if (result.status().code() == Code::kUnavailable && now - it->second.expires < kStaleIfError)
      return it->second.principal;
    impl_->entries.erase(it);
    return result;
  }
  if (impl_->ttl.count() > 0) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->entries.size() >= kMaxCachedKeys) {
      for (auto it = impl_->entries.begin(); it != impl_->entries.end();) {
        it = it->second.expires <= now ? impl_->entries.erase(it) : std::next(it);
      }
      if (impl_->entries.size() >= kMaxCachedKeys) impl_->entries.clear();
    }
    impl_->entries[id] = Impl::Entry{*result, std::chrono::steady_clock::now() + impl_->ttl};
  }
  return result;
}

}  // namespace scn::broker
