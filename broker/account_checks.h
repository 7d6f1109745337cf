// Input checks shared by the account code (accounts.cpp, credentials.cpp,
// accounts_api*.cpp). Each answers OK or kInvalidArgument naming the field
// ("field 'name' must ..."), so the REST layer can report `param`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::broker {

// Tenant and center names: ^[a-z0-9][a-z0-9-]{0,62}$.
Status check_slug(std::string_view field, std::string_view value);
// Usernames: ^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$.
Status check_username(std::string_view field, std::string_view value);
// Free text: valid UTF-8, no control characters, min_chars..max_chars characters.
Status check_text(std::string_view field, std::string_view value, std::size_t min_chars,
                  std::size_t max_chars);
// An integer in lo..hi; outside it kUnprocessable (422: well-formed but out
// of range, docs/API.md).
Status check_range(std::string_view field, std::int64_t value, std::int64_t lo, std::int64_t hi);
// The number of UTF-8 characters (code points) of valid UTF-8 text.
std::size_t utf8_chars(std::string_view text);

}  // namespace scn::broker
