#include "broker/billing/money.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <limits>

namespace scn::broker {

TEST_CASE("decimal_price: exact decimal text or a clear refusal") {
  struct Case {
    boost::json::value in;
    const char* out;  // nullptr: refused
  };
  const Case cases[] = {
      {0, "0"},
      {12, "12"},
      {boost::json::value(std::uint64_t{7}), "7"},
      {1.5, "1.5"},
      {0.1, "0.1"},
      {0.000001, "0.000001"},
      {2.0000004, "2"},  // rounded to 6 decimals
      {"3.25", "3.25"},
      {"003.2500", "3.25"},
      {"0", "0"},
      {"999999999999.999999", "999999999999.999999"},
      {-1, nullptr},
      {-0.5, nullptr},
      {1e12, nullptr},
      {std::numeric_limits<double>::infinity(), nullptr},
      {"1e3", nullptr},
      {"-1", nullptr},
      {" 1", nullptr},
      {"1.", nullptr},
      {".5", nullptr},
      {"1.1234567", nullptr},
      {"1234567890123", nullptr},
      {"", nullptr},
      {true, nullptr},
      {nullptr, nullptr},
  };
  for (const auto& c : cases) {
    CAPTURE(boost::json::serialize(c.in));
    auto r = decimal_price(c.in);
    if (c.out == nullptr) {
      CHECK_FALSE(r.is_ok());
    } else {
      REQUIRE(r.is_ok());
      CHECK(*r == c.out);
    }
  }
  CHECK_FALSE(decimal_price(std::numeric_limits<double>::quiet_NaN()).is_ok());
}

TEST_CASE("month_start") {
  CHECK(month_start("2026-11") == "2026-11-01");
  CHECK(month_start("1970-01") == "1970-01-01");
  for (const char* bad : {"2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "", "abcd-ef", "1969-12"}) {
    CAPTURE(bad);
    CHECK_FALSE(month_start(bad).has_value());
  }
}

}  // namespace scn::broker
