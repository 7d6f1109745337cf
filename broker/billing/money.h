// Exact money for prices and bills: decimal strings, never floating point.
//
// Contract:
//  - decimal_price(v): a price given in JSON as a non-negative integer, a
//    non-negative finite number (rounded to 6 decimals) or a string of 1..12
//    digits with an optional '.' and 1..6 more, at most 999999999999.999999;
//    returns its canonical decimal text ("1.5", "0.000001", "12"), which
//    PostgreSQL reads exactly as numeric. Anything else (negative, NaN or
//    infinite, too large, a bool, "1e3", " 1") is kInvalidArgument.
//  - month_start("YYYY-MM"): "YYYY-MM-01" for years 1970..9999 and months
//    01..12; nullopt otherwise.
#pragma once

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::broker {

Result<std::string> decimal_price(const boost::json::value& v);
std::optional<std::string> month_start(std::string_view month);

}  // namespace scn::broker
