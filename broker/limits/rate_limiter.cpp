#include "broker/limits/rate_limiter.h"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "broker/limits/limits_store.h"
#include "broker/limits/lua_scripts.h"
#include "common/crypto/crypto.h"
#include "common/log.h"
#include "common/redis/redis.h"

namespace scn::broker::limits {
namespace {

using Clock = std::chrono::steady_clock;

const redis::LuaScript& admit_script() {
  static const redis::LuaScript s(lua::kAdmit);
  return s;
}
const redis::LuaScript& settle_script() {
  static const redis::LuaScript s(lua::kSettle);
  return s;
}
const redis::LuaScript& renew_script() {
  static const redis::LuaScript s(lua::kRenew);
  return s;
}

std::int64_t text_tokens(const boost::json::value& v) {
  if (v.is_string()) return static_cast<std::int64_t>((v.get_string().size() + 3) / 4);
  if (v.is_array()) {
    std::int64_t n = 0;
    for (const auto& e : v.get_array()) n += e.is_number() ? 1 : text_tokens(e);
    return n;
  }
  if (v.is_object()) {  // a content part {"type":"text","text":...}
    const auto& o = v.get_object();
    auto it = o.find("text");
    return it == o.end() ? 0 : text_tokens(it->value());
  }
  return 0;
}

std::string month_of_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
  return buf;
}

// Seconds until the next calendar month (UTC).
std::int64_t seconds_to_next_month() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  if (++tm.tm_mon == 12) {
    tm.tm_mon = 0;
    ++tm.tm_year;
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(timegm(&tm) - now));
}

void openai_429(http::Response& response, std::string_view type, std::string_view message) {
  boost::json::object error{{"message", message}, {"type", type}, {"param", nullptr}, {"code", type}};
  response.set_json(429, boost::json::serialize(boost::json::object{{"error", std::move(error)}}));
}

}  // namespace

std::int64_t reserve_tokens(const common::JsonObject& body, std::int64_t default_max_tokens) {
  std::int64_t prompt = 0;
  if (auto it = body.find("messages"); it != body.end() && it->value().is_array()) {
    for (const auto& m : it->value().get_array()) {
      if (!m.is_object()) continue;
      auto c = m.get_object().find("content");
      if (c != m.get_object().end()) prompt += text_tokens(c->value()) + 4;  // + the message's markup
    }
  }
  if (auto it = body.find("prompt"); it != body.end()) prompt += text_tokens(it->value());
  std::int64_t max_tokens = default_max_tokens;
  for (const char* name : {"max_completion_tokens", "max_tokens"}) {
    auto it = body.find(name);
    if (it != body.end() && it->value().is_int64() && it->value().get_int64() > 0) {
      max_tokens = it->value().get_int64();
      break;
    }
  }
  std::int64_t n = 1;
  if (auto it = body.find("n"); it != body.end() && it->value().is_int64() && it->value().get_int64() > 1) {
    n = std::min<std::int64_t>(it->value().get_int64(), 128);
  }
  return std::max<std::int64_t>(1, prompt + std::min<std::int64_t>(max_tokens, kMaxLimit / 256) * n);
}

std::string format_reset(std::int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return std::to_string(ms) + "ms";
  auto secs = [](std::int64_t m) {
    std::string s = std::to_string(m / 1000);
    if (m % 1000 != 0) {
      char frac[8];
      std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(m % 1000));
      std::string f(frac);
      while (f.back() == '0') f.pop_back();
      s += f;
    }
    return s + "s";
  };
  if (ms < 60000) return secs(ms);
  return std::to_string(ms / 60000) + "m" + secs(ms % 60000);
}

// ---- the limiter ----------------------------------------------------------------

struct Scope {
  const char* kind;  // "t" or "k"
  std::string id;
  RateLimits limits;
  std::string base;  // <prefix>rl:<kind>:<id>
};

struct Admission::Held {
  std::string lease;
  std::int64_t reserved = 0;
  std::vector<std::string> keys;  // settle's KEYS
  std::vector<std::string> args;  // per scope tpm, monthly
  std::vector<std::string> conc_keys;
  bool settled = false;
};

struct RateLimiter::Impl {
  Impl(db::PgPool& p, std::string url, RateLimiterOptions o) : pg(p), redis_url(std::move(url)), options(std::move(o)) {}

  db::PgPool& pg;
  std::string redis_url;
  RateLimiterOptions options;

  struct CachedPolicy {
    KeyPolicy policy;
    Clock::time_point expires;
  };
  std::mutex policy_mu;
  std::unordered_map<std::string, CachedPolicy> policies;

  std::mutex redis_mu;
  std::vector<std::unique_ptr<redis::RedisClient>> idle_clients;

  std::mutex lease_mu;
  std::condition_variable lease_cv;
  std::unordered_map<std::string, std::vector<std::string>> leases;  // lease id -> conc keys
  std::thread renewer;
  bool stopping = false;

  std::atomic<std::int64_t> last_warning_ms{0};
  // Lease ids: random per limiter (so per broker), then a counter.
  const std::string lease_prefix = [] {
    auto r = crypto::new_secret("");
    return (r.is_ok() ? r->substr(0, 16) : std::to_string(Clock::now().time_since_epoch().count())) + "-";
  }();
  std::atomic<std::uint64_t> next_lease{1};

  void warn(const std::string& what) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 Clock::now().time_since_epoch()).count();
    std::int64_t last = last_warning_ms.load();
    if (now - last < 10000 || !last_warning_ms.compare_exchange_strong(last, now)) return;
    common::log_warn("rate limits: ", what, " (requests are admitted without limits meanwhile)");
  }

  Result<KeyPolicy> policy_of(const Principal& who) {
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(policy_mu);
      auto it = policies.find(who.api_key_id);
      if (it != policies.end() && it->second.expires > now) return it->second.policy;
    }
    auto loaded = load_key_policy(pg, who.api_key_id);
    std::lock_guard<std::mutex> lock(policy_mu);
    if (!loaded.is_ok()) {
      auto it = policies.find(who.api_key_id);
      if (it != policies.end()) return it->second.policy;  // stale beats none
      return loaded.status();
    }
    if (policies.size() > 10000) policies.clear();
    policies[who.api_key_id] = CachedPolicy{*loaded, now + options.policy_ttl};
    return loaded;
  }

  // Runs fn(client) on a pooled connection; a failed one is dropped.
  template <typename Fn>
  auto with_redis(Fn&& fn) -> decltype(fn(std::declval<redis::RedisClient&>())) {
    std::unique_ptr<redis::RedisClient> client;
    {
      std::lock_guard<std::mutex> lock(redis_mu);
      if (!idle_clients.empty()) {
        client = std::move(idle_clients.back());
        idle_clients.pop_back();
      }
    }
    if (!client) {
      auto c = redis::RedisClient::connect(redis_url);
      if (!c.is_ok()) return c.status();
      client = std::move(c).value();
    }
    auto result = fn(*client);
    std::lock_guard<std::mutex> lock(redis_mu);
    if (idle_clients.size() < 64) idle_clients.push_back(std::move(client));
    return result;
  }

  void hold_lease(const std::string& lease, std::vector<std::string> conc_keys) {
    std::lock_guard<std::mutex> lock(lease_mu);
    leases[lease] = std::move(conc_keys);
    if (!renewer.joinable()) renewer = std::thread([this] { renew_loop(); });
  }

  void drop_lease(const std::string& lease) {
    std::lock_guard<std::mutex> lock(lease_mu);
    leases.erase(lease);
  }

  void renew_loop() {
    const auto every = std::max(options.lease_ttl / 3, std::chrono::milliseconds(10));
    std::unique_lock<std::mutex> lock(lease_mu);
    while (!stopping) {
      lease_cv.wait_for(lock, every, [this] { return stopping; });
      if (stopping) break;
      auto snapshot = leases;
      lock.unlock();
      for (const auto& [lease, keys] : snapshot) {
        auto r = with_redis([&](redis::RedisClient& c) {
          return c.run_script(renew_script(), keys, {lease, std::to_string(options.lease_ttl.count())});
        });
        if (!r.is_ok()) warn("renewing a concurrency lease: " + r.status().to_string());
      }
      lock.lock();
    }
  }

  void release(Admission::Held& held, std::int64_t used) {
    if (held.settled) return;
    held.settled = true;
    if (!held.lease.empty()) drop_lease(held.lease);
    std::vector<std::string> args{held.lease, std::to_string(used - held.reserved)};
    args.insert(args.end(), held.args.begin(), held.args.end());
    auto r = with_redis([&](redis::RedisClient& c) { return c.run_script(settle_script(), held.keys, args); });
    if (!r.is_ok()) warn("settling a request: " + r.status().to_string());
  }
};

Admission::Admission(Admission&& other) noexcept
    : admitted_(other.admitted_), owner_(other.owner_), held_(std::move(other.held_)) {
  other.owner_ = nullptr;
}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    if (owner_ && held_) owner_->impl_->release(*held_, 0);
    admitted_ = other.admitted_;
    owner_ = other.owner_;
    held_ = std::move(other.held_);
    other.owner_ = nullptr;
  }
  return *this;
}

Admission::~Admission() {
  if (owner_ && held_) owner_->impl_->release(*held_, 0);
}

void Admission::settle(std::int64_t tokens) {
  if (owner_ && held_) owner_->impl_->release(*held_, std::max<std::int64_t>(0, tokens));
}

RateLimiter::RateLimiter(db::PgPool& pg, std::string redis_url, RateLimiterOptions options)
    : impl_(std::make_unique<Impl>(pg, std::move(redis_url), std::move(options))) {}

RateLimiter::~RateLimiter() {
  {
    std::lock_guard<std::mutex> lock(impl_->lease_mu);
    impl_->stopping = true;
  }
  impl_->lease_cv.notify_all();
  if (impl_->renewer.joinable()) impl_->renewer.join();
}

bool RateLimiter::may_use(const Principal& who, std::string_view service_id) {
  auto policy = impl_->policy_of(who);
  return !policy.is_ok() || policy->may_use(service_id);
}

std::optional<std::vector<std::string>> RateLimiter::service_scope(const Principal& who) {
  auto policy = impl_->policy_of(who);
  if (!policy.is_ok()) return std::nullopt;
  return policy->service_ids;
}

void RateLimiter::invalidate() {
  std::lock_guard<std::mutex> lock(impl_->policy_mu);
  impl_->policies.clear();
}

Result<std::int64_t> monthly_tokens_used(redis::RedisClient& redis, std::string_view key_prefix,
                                         std::string_view scope_kind, std::string_view id) {
  const std::string key = std::string(key_prefix) + "rl:" + std::string(scope_kind) + ":" + std::string(id) +
                          ":month:" + month_of_now();
  SCN_ASSIGN_OR_RETURN(auto v, redis.get(key));
  if (!v) return std::int64_t{0};
  try {
    return static_cast<std::int64_t>(std::stoll(*v));
  } catch (const std::exception&) {
    return Status::internal("rate limits: month counter '" + key + "' is not a number");
  }
}

std::optional<Admission> RateLimiter::admit_cached(const Principal& who, std::string_view service_id) {
  {
    std::lock_guard<std::mutex> lock(impl_->policy_mu);
    auto it = impl_->policies.find(who.api_key_id);
    if (it == impl_->policies.end() || it->second.expires <= Clock::now()) return std::nullopt;
    const KeyPolicy& p = it->second.policy;
    if (!p.may_use(service_id) || p.tenant.any() || p.key.any()) return std::nullopt;
  }
  Admission out;
  out.owner_ = this;
  out.admitted_ = true;
  return out;
}

Admission RateLimiter::admit(const Principal& who, std::string_view service_id, const common::JsonObject& body,
                             http::Response& response) {
  Admission out;
  out.owner_ = this;
  auto policy = impl_->policy_of(who);
  if (!policy.is_ok()) {
    common::log_warn("rate limits: policy of key ", who.api_key_id, ": ", policy.status().to_string());
    boost::json::object error{{"message", "cannot check the API key's limits now"},
                              {"type", "unavailable_error"}, {"param", nullptr}, {"code", nullptr}};
    response.set_json(503, boost::json::serialize(boost::json::object{{"error", std::move(error)}}));
    response.set_header("Retry-After", "2");
    return out;
  }
  if (!policy->may_use(service_id)) {
    boost::json::object error{
        {"message", "The model does not exist or this API key may not use it (the key is scoped to other "
                    "services)"},
        {"type", "not_found_error"}, {"param", "model"}, {"code", "model_not_found"}};
    response.set_json(404, boost::json::serialize(boost::json::object{{"error", std::move(error)}}));
    return out;
  }
  std::vector<Scope> scopes;
  const std::string& prefix = impl_->options.key_prefix;
  if (policy->tenant.any()) scopes.push_back({"t", policy->tenant_id, policy->tenant, prefix + "rl:t:" + policy->tenant_id});
  if (policy->key.any()) scopes.push_back({"k", policy->api_key_id, policy->key, prefix + "rl:k:" + policy->api_key_id});
  if (scopes.empty()) {
    out.admitted_ = true;
    return out;
  }

  const std::int64_t reserve = reserve_tokens(body, impl_->options.default_max_tokens);
  const std::string lease_id = impl_->lease_prefix + std::to_string(impl_->next_lease.fetch_add(1));
  const std::string month = month_of_now();
  auto lim = [](const std::optional<std::int64_t>& v) { return std::to_string(v ? *v : -1); };
  std::vector<std::string> keys, args{lease_id, std::to_string(impl_->options.lease_ttl.count()), std::to_string(reserve)};
  auto held = std::make_unique<Admission::Held>();
  held->lease = lease_id;
  held->reserved = reserve;
  for (const auto& s : scopes) {
    keys.insert(keys.end(), {s.base + ":req", s.base + ":tok", s.base + ":conc", s.base + ":month:" + month});
    args.insert(args.end(), {lim(s.limits.requests_per_minute), lim(s.limits.tokens_per_minute),
                             lim(s.limits.max_concurrent_requests), lim(s.limits.monthly_token_budget)});
    held->keys.insert(held->keys.end(), {s.base + ":tok", s.base + ":conc", s.base + ":month:" + month});
    held->args.insert(held->args.end(), {lim(s.limits.tokens_per_minute), lim(s.limits.monthly_token_budget)});
    if (s.limits.max_concurrent_requests) held->conc_keys.push_back(s.base + ":conc");
  }
  auto reply = impl_->with_redis([&](redis::RedisClient& c) { return c.run_script(admit_script(), keys, args); });
  if (!reply.is_ok() || !reply->is_array() || reply->elements.size() < 11) {
    impl_->warn("admitting a request: " + (reply.is_ok() ? "unexpected reply " + reply->debug_string()
                                                          : reply.status().to_string()));
    out.admitted_ = true;
    return out;
  }
  std::int64_t v[11];
  for (int i = 0; i < 11; ++i) v[i] = reply->elements[i].integer;
  if (v[4] > 0) {
    response.set_header("x-ratelimit-limit-requests", std::to_string(v[4]));
    response.set_header("x-ratelimit-remaining-requests", std::to_string(v[5]));
    response.set_header("x-ratelimit-reset-requests", format_reset(v[6]));
  }
  if (v[7] > 0) {
    response.set_header("x-ratelimit-limit-tokens", std::to_string(v[7]));
    response.set_header("x-ratelimit-remaining-tokens", std::to_string(v[8]));
    response.set_header("x-ratelimit-reset-tokens", format_reset(v[9]));
  }
  if (v[0] == 1) {
    out.admitted_ = true;
    if (!held->conc_keys.empty()) impl_->hold_lease(lease_id, held->conc_keys);
    // Only token buckets, budgets and leases have anything to settle: a
    // request-per-minute limit alone costs one Redis call, not two.
    const bool settles = std::any_of(scopes.begin(), scopes.end(), [](const Scope& s) {
      return s.limits.tokens_per_minute || s.limits.monthly_token_budget || s.limits.max_concurrent_requests;
    });
    if (settles) out.held_ = std::move(held);
    return out;
  }
  const std::int64_t kind = v[1];
  const Scope& s = scopes[static_cast<std::size_t>(std::clamp<std::int64_t>(v[2], 1, static_cast<std::int64_t>(scopes.size())) - 1)];
  const std::string whose = std::string(s.kind) == "t" ? "the tenant" : "the API key '" + who.username + "'";
  std::int64_t retry_ms = v[3];
  if (kind == 4) {
    retry_ms = seconds_to_next_month() * 1000;
    response.set_header("x-should-retry", "false");
    openai_429(response, "insufficient_quota",
               "You exceeded the monthly token budget of " + whose + " (" + std::to_string(v[10]) +
                   " tokens in " + month + "); ask an admin to raise it, or wait for next month");
  } else {
    std::string what = kind == 1   ? "requests per minute (RPM)"
                       : kind == 2 ? "tokens per minute (TPM)"
                                   : "concurrent requests";
    std::string msg = "Rate limit reached for " + what + " of " + whose + ": limit " + std::to_string(v[10]);
    if (kind == 2) msg += ", requested " + std::to_string(reserve) + " (prompt estimate + max_tokens)";
    msg += ". Please try again in " + format_reset(retry_ms) + ".";
    openai_429(response, "rate_limit_exceeded", msg);
  }
  response.set_header("retry-after", std::to_string(std::max<std::int64_t>(1, (retry_ms + 999) / 1000)));
  response.set_header("retry-after-ms", std::to_string(std::max<std::int64_t>(1, retry_ms)));
  return out;
}

}  // namespace scn::broker::limits
