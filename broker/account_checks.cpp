#include "broker/account_checks.h"

#include "common/utf8.h"

namespace scn::broker {
namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

std::string field_msg(std::string_view field, std::string_view what) {
  return "field '" + std::string(field) + "' " + std::string(what);
}

}  // namespace

std::size_t utf8_chars(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

Status check_slug(std::string_view field, std::string_view value) {
  bool ok = !value.empty() && value.size() <= 63 && lower_alnum(value[0]);
  for (std::size_t i = 1; ok && i < value.size(); ++i) ok = lower_alnum(value[i]) || value[i] == '-';
  if (ok) return Status::ok();
  return Status::invalid_argument(field_msg(
      field, "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"));
}

Status check_username(std::string_view field, std::string_view value) {
  bool ok = !value.empty() && value.size() <= 100 && alnum(value[0]);
  for (std::size_t i = 1; ok && i < value.size(); ++i) {
    char c = value[i];
    ok = alnum(c) || c == '.' || c == '_' || c == '@' || c == '-';
  }
  if (ok) return Status::ok();
  return Status::invalid_argument(field_msg(
      field, "must be 1-100 characters of A-Z, a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit"));
}

Status check_text(std::string_view field, std::string_view value, std::size_t min_chars,
                  std::size_t max_chars) {
  if (!common::valid_utf8(value)) return Status::invalid_argument(field_msg(field, "is not valid UTF-8"));
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      return Status::invalid_argument(field_msg(field, "must not contain control characters"));
    }
  }
  std::size_t n = utf8_chars(value);
  if (n < min_chars || n > max_chars) {
    return Status::invalid_argument(field_msg(field, "must be " + std::to_string(min_chars) + " to " +
                                                         std::to_string(max_chars) + " characters"));
  }
  return Status::ok();
}

Status check_range(std::string_view field, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value >= lo && value <= hi) return Status::ok();
  return Status::unprocessable(
      field_msg(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi)));
}

}  // namespace scn::broker
