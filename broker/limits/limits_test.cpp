// Limits values, their JSON, and the pure helpers of the rate limiter.
#include "broker/limits/limits.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "broker/limits/rate_limiter.h"

namespace scn::broker::limits {
namespace {

common::JsonObject obj(std::string_view text) {
  auto r = common::parse_json_object(text);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

TEST_CASE("parse_limits_patch: absent keeps, null clears, checks types and ranges") {
  auto p = parse_limits_patch(obj(R"({"requests_per_minute":60,"tokens_per_minute":null})"), "", false);
  REQUIRE(p.is_ok());
  CHECK(p->requests_per_minute.present);
  CHECK(*p->requests_per_minute.value == 60);
  CHECK(p->tokens_per_minute.present);
  CHECK(!p->tokens_per_minute.value);
  CHECK(!p->monthly_token_budget.present);
  RateLimits base{1, 2, 3, 4};
  CHECK(p->apply(base) == RateLimits{60, std::nullopt, 3, 4});
  CHECK(!p->empty());
  CHECK(parse_limits_patch(obj("{}"), "", false)->empty());

  struct Case {
    const char* body;
    bool tenant;
    Code code;
    const char* field;
  };
  const Case cases[] = {
      {R"({"requests_per_minute":0})", false, Code::kUnprocessable, "'limits.requests_per_minute'"},
      {R"({"requests_per_minute":"5"})", false, Code::kInvalidArgument, "'limits.requests_per_minute'"},
      {R"({"requests_per_minute":1.5})", false, Code::kInvalidArgument, "'limits.requests_per_minute'"},
      {R"({"tokens_per_minute":-1})", false, Code::kUnprocessable, "'limits.tokens_per_minute'"},
      {R"({"max_concurrent_requests":2000000})", false, Code::kUnprocessable, "'limits.max_concurrent_requests'"},
      {R"({"monthly_token_budget":-1})", false, Code::kUnprocessable, "'limits.monthly_token_budget'"},
      {R"({"monthly_token_budget":18446744073709551615})", false, Code::kUnprocessable, "monthly_token_budget"},
      {R"({"rpm":5})", false, Code::kInvalidArgument, "'limits.rpm'"},
      {R"({"max_replicas":5})", false, Code::kInvalidArgument, "'limits.max_replicas'"},  // keys have none
      {R"({"max_replicas":null})", true, Code::kInvalidArgument, "'limits.max_replicas'"},
      {R"({"max_replicas":10001})", true, Code::kUnprocessable, "'limits.max_replicas'"},
      {R"({"max_gpus":-2})", true, Code::kUnprocessable, "'limits.max_gpus'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto r = parse_limits_patch(obj(c.body), "limits.", c.tenant);
    REQUIRE(!r.is_ok());
    CHECK(r.status().code() == c.code);
    CHECK(r.status().message().find(c.field) != std::string::npos);
  }
  auto zero_budget = parse_limits_patch(obj(R"({"monthly_token_budget":0,"max_gpus":null,"max_replicas":3})"), "", true);
  REQUIRE(zero_budget.is_ok());
  CHECK(*zero_budget->monthly_token_budget.value == 0);
  CHECK(zero_budget->max_gpus.present);
  CHECK(*zero_budget->max_replicas.value == 3);
}

TEST_CASE("check_key_within_tenant: a key may not exceed its tenant's limits") {
  RateLimits tenant{100, std::nullopt, 4, 1000};
  CHECK(check_key_within_tenant({}, tenant, "limits.").is_ok());  // the tenant's still apply
  CHECK(check_key_within_tenant({100, 1'000'000, 4, 1000}, tenant, "limits.").is_ok());
  auto over = check_key_within_tenant({101, std::nullopt, std::nullopt, std::nullopt}, tenant, "limits.");
  CHECK(over.code() == Code::kUnprocessable);
  CHECK(over.message().find("'limits.requests_per_minute'") != std::string::npos);
  CHECK(check_key_within_tenant({1, 1, 1, 1001}, tenant, "").code() == Code::kUnprocessable);
}

TEST_CASE("limits_json renders every field, null when unlimited") {
  CHECK(boost::json::serialize(limits_json({5, std::nullopt, 2, 0})) ==
        R"({"requests_per_minute":5,"tokens_per_minute":null,"max_concurrent_requests":2,"monthly_token_budget":0})");
}

TEST_CASE("format_reset: OpenAI's durations") {
  const std::pair<std::int64_t, const char*> cases[] = {
      {-5, "0ms"}, {0, "0ms"}, {20, "20ms"}, {999, "999ms"}, {1000, "1s"}, {1500, "1.5s"},
      {12345, "12.345s"}, {60000, "1m0s"}, {360000, "6m0s"}, {61500, "1m1.5s"}};
  for (const auto& [ms, text] : cases) {
    CAPTURE(ms);
    CHECK(format_reset(ms) == text);
  }
}

TEST_CASE("reserve_tokens: prompt estimate plus max_tokens times n") {
  const std::pair<const char*, std::int64_t> cases[] = {
      {R"({"prompt":"abcdefgh","max_tokens":10})", 2 + 10},
      {R"({"prompt":[1,2,3],"max_tokens":1})", 3 + 1},
      {R"({"prompt":"abcd"})", 1 + 256},  // the default max_tokens
      {R"({"messages":[{"role":"user","content":"abcdefgh"}],"max_tokens":5,"n":3})", 2 + 4 + 15},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"abcd"}]}],"max_completion_tokens":7})",
       1 + 4 + 7},
      {R"({"max_tokens":0})", 256},  // not positive: the default
      {R"({})", 256},
  };
  for (const auto& [body, want] : cases) {
    CAPTURE(body);
    CHECK(reserve_tokens(obj(body), 256) == want);
  }
}

}  // namespace
}  // namespace scn::broker::limits
