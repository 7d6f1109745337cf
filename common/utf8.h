// Strict UTF-8 checks and repair (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF).
//
// Contract:
//  - valid_utf8(s) is true exactly when s is well-formed UTF-8.
//  - sanitize_utf8 replaces each maximal ill-formed subpart with U+FFFD (the
//    Unicode "substitution of maximal subparts" practice), so its output is
//    always valid and equals the input when the input was valid.
//  - utf8_incomplete_suffix(s) counts the bytes at the end of s that begin a
//    valid but unfinished sequence (0..3): a streaming writer holds them back
//    until the next bytes arrive.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace scn::common {

bool valid_utf8(std::string_view s);
// The offset of the first byte of the first ill-formed sequence, or npos.
std::size_t find_invalid_utf8(std::string_view s);
std::string sanitize_utf8(std::string_view s);
std::size_t utf8_incomplete_suffix(std::string_view s);

}  // namespace scn::common
