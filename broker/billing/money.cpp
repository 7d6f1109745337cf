#include "broker/billing/money.h"

#include <boost/json.hpp>

#include <cmath>
#include <cstdio>

namespace scn::broker {
namespace {

constexpr double kMaxPrice = 1e12;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Drops trailing fraction zeros (and the point) and leading integer zeros.
std::string canonical(std::string_view integer, std::string_view fraction) {
  while (integer.size() > 1 && integer.front() == '0') integer.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  std::string out(integer);
  if (!fraction.empty()) out += "." + std::string(fraction);
  return out;
}

Result<std::string> from_text(std::string_view s) {
  const auto dot = s.find('.');
  std::string_view integer = s.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (!all_digits(integer) || integer.size() > 12 ||
      (dot != std::string_view::npos && (!all_digits(fraction) || fraction.size() > 6))) {
    return Status::invalid_argument("a price is a non-negative decimal with at most 12 digits before the point "
                                    "and 6 after it");
  }
  return canonical(integer, fraction);
}

}  // namespace

Result<std::string> decimal_price(const boost::json::value& v) {
  if (v.is_int64()) {
    if (v.get_int64() < 0) return Status::invalid_argument("a price must not be negative");
    if (v.get_int64() >= static_cast<std::int64_t>(kMaxPrice)) return Status::invalid_argument("price too large");
    return std::to_string(v.get_int64());
  }
  if (v.is_uint64()) {
    if (v.get_uint64() >= static_cast<std::uint64_t>(kMaxPrice)) return Status::invalid_argument("price too large");
    return std::to_string(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d)) return Status::invalid_argument("a price must be a finite number");
    if (d < 0) return Status::invalid_argument("a price must not be negative");
    if (d >= kMaxPrice) return Status::invalid_argument("price too large");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", d);
    return from_text(buf);
  }
  if (v.is_string()) return from_text(v.get_string());
  return Status::invalid_argument("a price must be a number or a decimal string");
}

std::optional<std::string> month_start(std::string_view month) {
  if (month.size() != 7 || month[4] != '-' || !all_digits(month.substr(0, 4)) || !all_digits(month.substr(5, 2))) {
    return std::nullopt;
  }
  const int year = std::stoi(std::string(month.substr(0, 4)));
  const int mon = std::stoi(std::string(month.substr(5, 2)));
  if (year < 1970 || mon < 1 || mon > 12) return std::nullopt;
  return std::string(month) + "-01";
}

}  // namespace scn::broker
