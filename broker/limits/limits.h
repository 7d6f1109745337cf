// Rate limits and budgets of a tenant or an API key: the values, their JSON
// form and their checks (docs/API.md, "Rate limits").
//
// Contract:
//  - A limit is nullopt (unlimited) or a number: requests_per_minute,
//    tokens_per_minute (prompt + completion tokens) and
//    max_concurrent_requests are >= 1, monthly_token_budget >= 0 (0: no
//    tokens at all), each at most kMaxLimit.
//  - parse_limits_patch(obj, prefix) reads the four fields of a JSON object
//    (and, with `tenant_fields`, max_replicas 0..10000 and max_gpus >= 0 or
//    null): an absent field stays unchanged, null clears it (unlimited).
//    Unknown fields and values of the wrong type are kInvalidArgument naming
//    "<prefix><field>"; a number out of range is kUnprocessable (422).
//  - check_key_within_tenant(key, tenant): a limit set on both must be no
//    greater on the key (kUnprocessable naming the field); used when a
//    non-admin sets a key's limits. (A key without a limit is still bound
//    by its tenant's: both apply.)
//  - limits_json() renders all four fields (null when unlimited).
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace scn::broker::limits {

inline constexpr std::int64_t kMaxLimit = 1'000'000'000'000'000;  // 1e15

struct RateLimits {
  std::optional<std::int64_t> requests_per_minute;
  std::optional<std::int64_t> tokens_per_minute;
  std::optional<std::int64_t> max_concurrent_requests;
  std::optional<std::int64_t> monthly_token_budget;

  bool any() const {
    return requests_per_minute || tokens_per_minute || max_concurrent_requests || monthly_token_budget;
  }
  bool operator==(const RateLimits&) const = default;
};

// One field of a patch: absent (keep), null (clear) or a value.
struct FieldPatch {
  bool present = false;
  std::optional<std::int64_t> value;  // nullopt with present: cleared
};

struct LimitsPatch {
  FieldPatch requests_per_minute;
  FieldPatch tokens_per_minute;
  FieldPatch max_concurrent_requests;
  FieldPatch monthly_token_budget;
  // Tenants only (tenant_fields): max_replicas cannot be null.
  FieldPatch max_replicas;
  FieldPatch max_gpus;

  bool empty() const;
  // `base` with the four rate fields of this patch applied.
  RateLimits apply(RateLimits base) const;
};

Result<LimitsPatch> parse_limits_patch(const common::JsonObject& obj, std::string_view prefix,
                                       bool tenant_fields);

Status check_key_within_tenant(const RateLimits& key, const RateLimits& tenant, std::string_view prefix);

boost::json::object limits_json(const RateLimits& limits);

}  // namespace scn::broker::limits
