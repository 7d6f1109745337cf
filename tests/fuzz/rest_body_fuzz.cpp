// Fuzz target: the REST API's body parsers that do not need a database
// (broker): the limits patch of tenants and API keys
// (limits::parse_limits_patch), prices (decimal_price: every member of the
// object), billing months (month_start), roles (parse_role), and the typed
// field getters every handler uses (common/json.h). Errors are 4xx.
#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "broker/billing/money.h"
#include "broker/limits/limits.h"
#include "broker/principal.h"
#include "common/json.h"
#include "tests/fuzz/fuzz_targets.h"

namespace scn::fuzz {
namespace {

void expect_4xx(const Status& st, const char* what) {
  if (!st.is_ok() && st.http_status() / 100 != 4)
    fuzz_fail("rest_body", std::string(what) + ": " + st.to_string());
}

}  // namespace

int rest_body_one_input(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)broker::parse_role(body);
  (void)broker::month_start(body);
  auto parsed = common::parse_json_object(body);
  if (!parsed.is_ok()) {
    expect_4xx(parsed.status(), "parse_json_object");
    return 0;
  }
  const common::JsonObject& obj = *parsed;
  for (bool tenant : {false, true}) {
    auto p = broker::limits::parse_limits_patch(obj, "", tenant);
    expect_4xx(p.status(), "parse_limits_patch");
    if (p.is_ok()) (void)p->apply(broker::limits::RateLimits{});
  }
  for (const auto& kv : obj) {
    auto price = broker::decimal_price(kv.value());
    expect_4xx(price.status(), "decimal_price");
    if (price.is_ok() && (price->empty() || price->size() > 19))
      fuzz_fail("rest_body", "decimal_price gave '" + *price + "'");
    const std::string_view key(kv.key().data(), kv.key().size());
    expect_4xx(common::get_optional_string(obj, key).status(), "get_optional_string");
    expect_4xx(common::get_optional_int(obj, key).status(), "get_optional_int");
    expect_4xx(common::get_optional_number(obj, key).status(), "get_optional_number");
    expect_4xx(common::get_optional_bool(obj, key).status(), "get_optional_bool");
    if (kv.value().is_string()) {
      (void)broker::parse_role(kv.value().as_string());
      (void)broker::month_start(kv.value().as_string());
    }
  }
  return 0;
}

}  // namespace scn::fuzz

SCN_FUZZ_ENTRY(rest_body)
