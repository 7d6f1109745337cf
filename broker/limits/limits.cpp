#include "broker/limits/limits.h"

#include <boost/json.hpp>

#include <array>

namespace scn::broker::limits {
namespace {

struct FieldSpec {
  std::string_view name;
  FieldPatch LimitsPatch::*member;
  std::int64_t lo;
  std::int64_t hi;
  bool nullable;
  bool tenant_only;
};

constexpr std::array<FieldSpec, 6> kFields{{
    {"requests_per_minute", &LimitsPatch::requests_per_minute, 1, kMaxLimit, true, false},
    {"tokens_per_minute", &LimitsPatch::tokens_per_minute, 1, kMaxLimit, true, false},
    {"max_concurrent_requests", &LimitsPatch::max_concurrent_requests, 1, 1'000'000, true, false},
    {"monthly_token_budget", &LimitsPatch::monthly_token_budget, 0, kMaxLimit, true, false},
    {"max_replicas", &LimitsPatch::max_replicas, 0, 10000, false, true},
    {"max_gpus", &LimitsPatch::max_gpus, 0, 1'000'000, true, true},
}};

std::string field_name(std::string_view prefix, std::string_view name) {
  return std::string(prefix) + std::string(name);
}

void apply_one(const FieldPatch& p, std::optional<std::int64_t>& v) {
  if (p.present) v = p.value;
}

}  // namespace

bool LimitsPatch::empty() const {
  for (const auto& f : kFields) {
    if ((this->*f.member).present) return false;
  }
  return true;
}

RateLimits LimitsPatch::apply(RateLimits base) const {
  apply_one(requests_per_minute, base.requests_per_minute);
  apply_one(tokens_per_minute, base.tokens_per_minute);
  apply_one(max_concurrent_requests, base.max_concurrent_requests);
  apply_one(monthly_token_budget, base.monthly_token_budget);
  return base;
}

Result<LimitsPatch> parse_limits_patch(const common::JsonObject& obj, std::string_view prefix,
                                       bool tenant_fields) {
  LimitsPatch patch;
  for (const auto& kv : obj) {
    const std::string_view key = kv.key();
    const FieldSpec* spec = nullptr;
    for (const auto& f : kFields) {
      if (f.name == key && (tenant_fields || !f.tenant_only)) spec = &f;
    }
    const std::string name = field_name(prefix, key);
    if (spec == nullptr) return Status::invalid_argument("field '" + name + "' is not known");
    FieldPatch& out = patch.*(spec->member);
    out.present = true;
    const boost::json::value& v = kv.value();
    if (v.is_null()) {
      if (!spec->nullable) return Status::invalid_argument("field '" + name + "' must be an integer");
      continue;
    }
    std::int64_t n = 0;
    if (v.is_int64()) {
      n = v.get_int64();
    } else if (v.is_uint64()) {
      return Status::unprocessable("field '" + name + "' is too large");
    } else if (v.is_double() && v.get_double() >= -1e18 && v.get_double() <= 1e18 &&
               v.get_double() == static_cast<double>(static_cast<std::int64_t>(v.get_double()))) {
      n = static_cast<std::int64_t>(v.get_double());
    } else {
      return Status::invalid_argument("field '" + name + "' must be an integer" +
                                      (spec->nullable ? " or null" : ""));
    }
    if (n < spec->lo || n > spec->hi) {
      return Status::unprocessable("field '" + name + "' must be " + std::to_string(spec->lo) + ".." +
                                   std::to_string(spec->hi));
    }
    out.value = n;
  }
  return patch;
}

Status check_key_within_tenant(const RateLimits& key, const RateLimits& tenant, std::string_view prefix) {
  const std::array<std::pair<std::string_view, std::pair<const std::optional<std::int64_t>*,
                                                         const std::optional<std::int64_t>*>>, 4>
      pairs{{{"requests_per_minute", {&key.requests_per_minute, &tenant.requests_per_minute}},
             {"tokens_per_minute", {&key.tokens_per_minute, &tenant.tokens_per_minute}},
             {"max_concurrent_requests", {&key.max_concurrent_requests, &tenant.max_concurrent_requests}},
             {"monthly_token_budget", {&key.monthly_token_budget, &tenant.monthly_token_budget}}}};
  for (const auto& [name, values] : pairs) {
    const auto& [k, t] = values;
    if (!t->has_value() || !k->has_value()) continue;
    if (**k > **t) {
      return Status::unprocessable("field '" + field_name(prefix, name) + "' must be at most the tenant's " +
                                   std::to_string(**t) + " (only an admin may set more)");
    }
  }
  return Status::ok();
}

boost::json::object limits_json(const RateLimits& limits) {
  auto v = [](const std::optional<std::int64_t>& x) {
    return x ? boost::json::value(*x) : boost::json::value(nullptr);
  };
  return boost::json::object{{"requests_per_minute", v(limits.requests_per_minute)},
                             {"tokens_per_minute", v(limits.tokens_per_minute)},
                             {"max_concurrent_requests", v(limits.max_concurrent_requests)},
                             {"monthly_token_budget", v(limits.monthly_token_budget)}};
}

}  // namespace scn::broker::limits
