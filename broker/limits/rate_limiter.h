// The gateway's admission control: API-key service scopes, and rate limits
// and budgets per tenant and per API key enforced in Redis, shared by every
// broker replica (docs/API.md, "Rate limits").
//
// Contract:
//  - admit(who, service_id, body, response) is called once per gateway
//    request, after the service was found. It answers an Admission:
//      * a key scoped to other services: not admitted, 404 model_not_found
//        (as for a model the key does not know: OpenAI's answer for a model
//        one has no access to);
//      * a limit exceeded: not admitted, 429 with the OpenAI error body -
//        type "rate_limit_exceeded", code "rate_limit_exceeded" for
//        requests/tokens per minute and concurrent requests; type and code
//        "insufficient_quota" (and `x-should-retry: false`) for the
//        monthly token budget - and the headers below plus `retry-after`
//        (seconds) and `retry-after-ms`;
//      * otherwise admitted: one request and `reserve_tokens(body)` tokens
//        are taken from every bucket that applies (tenant and key, all or
//        nothing, one Lua script), a concurrency lease is held and the
//        x-ratelimit-* headers are set on `response` (they are sent with
//        the answer, complete or streamed).
//    Headers (only for the kinds of limit that apply): x-ratelimit-limit-
//    requests, -remaining-requests, -reset-requests, -limit-tokens,
//    -remaining-tokens, -reset-tokens, each of the tightest scope; resets
//    are durations until the bucket is full again ("20ms", "1.5s", "6m0s").
//  - Admission::settle(tokens) corrects the reservation to the tokens really
//    used (prompt + completion): the difference is given back to (or taken
//    from) the token buckets and the month's counter. The Admission's
//    destruction releases the concurrency lease and, if settle was not
//    called, gives the whole reservation back (the request failed). With
//    only requests-per-minute limits there is nothing to settle (no Redis
//    call).
//  - Buckets refill continuously (limit per 60 s) and start full; a request
//    needs one request token and min(reserve, tokens_per_minute) tokens
//    (so a request bigger than the bucket waits for a full bucket). The
//    monthly budget (UTC calendar month) refuses new requests once the
//    tokens counted reach it. Keys live in Redis with TTLs (buckets 2 min,
//    month counters 40 days); concurrency leases expire after lease_ttl
//    unless renewed (every lease_ttl / 3 while held), so a crashed broker
//    frees its slots within lease_ttl.
//  - Policies (limits, scope) are read from PostgreSQL and cached per key
//    for policy_ttl (1 s): changes apply within a second on every broker.
//    A key and tenant without any limit cost no Redis call at all.
//  - When Redis (or PostgreSQL, with nothing cached) fails, requests are
//    admitted without limits (fail open) and a warning is logged at most
//    every 10 s; the scope check needs the policy and fails closed (503).
//  - Thread-safe. The RateLimiter must outlive its Admissions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/principal.h"
#include "common/http/server.h"
#include "common/json.h"
#include "common/status.h"

namespace scn::db {
class PgPool;
}
namespace scn::redis {
class RedisClient;
}

namespace scn::broker::limits {

struct RateLimiterOptions {
  std::chrono::milliseconds policy_ttl{1000};
  std::chrono::milliseconds lease_ttl{60000};
  std::int64_t default_max_tokens = 256;  // reserved when a request names none
  std::string key_prefix = "scn:";         // Redis keys: <prefix>rl:{t|k}:<id>:...
};

// Tokens reserved for a request: an estimate of the prompt (a quarter of the
// characters of its text, or the number of token ids) plus max_tokens (or
// max_completion_tokens, else default_max_tokens) times n.
std::int64_t reserve_tokens(const common::JsonObject& body, std::int64_t default_max_tokens);

// "20ms", "1.5s", "6m0s" (OpenAI's x-ratelimit-reset-* format).
std::string format_reset(std::int64_t ms);

// Tokens counted this UTC month for a tenant (kind "t") or key ("k") with a
// monthly budget; 0 when none were counted.
Result<std::int64_t> monthly_tokens_used(redis::RedisClient& redis, std::string_view key_prefix,
                                         std::string_view scope_kind, std::string_view id);

class RateLimiter;

class Admission {
 public:
  Admission() = default;
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  ~Admission();

  bool admitted() const { return admitted_; }
  // Real usage (prompt + completion tokens); at most once.
  void settle(std::int64_t tokens);

 private:
  friend class RateLimiter;
  struct Held;
  bool admitted_ = false;
  RateLimiter* owner_ = nullptr;
  std::unique_ptr<Held> held_;  // null: nothing to give back
};

class RateLimiter {
 public:
  RateLimiter(db::PgPool& pg, std::string redis_url, RateLimiterOptions options = {});
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  Admission admit(const Principal& who, std::string_view service_id, const common::JsonObject& body,
                  http::Response& response);
  // admit() when it needs neither PostgreSQL nor Redis (for callers that
  // must not block): the key's policy is cached and fresh, lets the key use
  // the service and sets no limit - then the Admission (admitted, nothing
  // held). Otherwise nullopt (call admit()).
  std::optional<Admission> admit_cached(const Principal& who, std::string_view service_id);

  // The key's service scope alone (GET /v1/models lists only what the key
  // may use); true when the policy cannot be read (admit() decides then).
  bool may_use(const Principal& who, std::string_view service_id);
  // The ids of the services the key is scoped to; nullopt: every service of
  // its tenant (also when the policy cannot be read).
  std::optional<std::vector<std::string>> service_scope(const Principal& who);
  // Forgets cached policies (tests).
  void invalidate();

 private:
  friend class Admission;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scn::broker::limits
