#include "common/utf8.h"

#include <cstdint>

namespace scn::common {

namespace {

// Length of the well-formed sequence at s[i], or 0 when ill-formed. `prefix`
// receives how many bytes form a valid (possibly incomplete) prefix (>= 1).
std::size_t sequence_at(std::string_view s, std::size_t i, std::size_t* prefix) {
  auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t c = b(i);
  *prefix = 1;
  if (c < 0x80) return 1;
  std::size_t need;
  std::uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;        // no overlong forms
    else if (c == 0xED) hi = 0x9F;   // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;        // no overlong forms
    else if (c == 0xF4) hi = 0x8F;   // nothing above U+10FFFF
  } else {
    return 0;  // continuation byte, C0, C1, F5..FF
  }
  for (std::size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) return 0;
    const std::uint8_t x = b(i + k);
    const bool ok = k == 1 ? (x >= lo && x <= hi) : (x >= 0x80 && x <= 0xBF);
    if (!ok) return 0;
    *prefix = k + 1;
  }
  return need;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view s) {
  std::size_t i = 0, prefix;
  while (i < s.size()) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w = 0;
      for (int k = 0; k < 8; ++k) w |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(s[i + k])) << (8 * k);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    std::size_t n = sequence_at(s, i, &prefix);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool valid_utf8(std::string_view s) { return find_invalid_utf8(s) == std::string_view::npos; }

std::string sanitize_utf8(std::string_view s) {
  if (valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t i = 0, prefix;
  while (i < s.size()) {
    std::size_t n = sequence_at(s, i, &prefix);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += prefix;
    }
  }
  return out;
}

std::size_t utf8_incomplete_suffix(std::string_view s) {
  // A lead byte within the last three bytes whose sequence runs past the end.
  for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    std::size_t i = s.size() - back;
    auto c = static_cast<std::uint8_t>(s[i]);
    if (c >= 0x80 && c <= 0xBF) continue;  // continuation: look further back
    std::size_t prefix;
    std::size_t n = sequence_at(s, i, &prefix);
    // Ill-formed only because the string ends here, with a valid prefix?
    if (n == 0 && prefix == back && c >= 0xC2 && c <= 0xF4) return back;
    return 0;
  }
  return 0;
}

}  // namespace scn::common
