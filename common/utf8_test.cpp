#include "common/utf8.h"

#include <doctest/doctest.h>

namespace scn::common {
namespace {

TEST_CASE("valid_utf8 on a table of well- and ill-formed sequences") {
  struct Case {
    std::string_view text;
    bool valid;
    std::size_t first_bad;
  };
  constexpr auto npos = std::string_view::npos;
  const Case cases[] = {
      {"", true, npos},
      {"plain ascii, long enough for the fast path", true, npos},
      {"\xC3\xA9", true, npos},                  // é
      {"\xE2\x82\xAC", true, npos},              // €
      {"\xF0\x9F\x98\x80", true, npos},          // 😀
      {"\xEF\xBF\xBF", true, npos},              // U+FFFF
      {"\xF4\x8F\xBF\xBF", true, npos},          // U+10FFFF
      {"\xED\x9F\xBF", true, npos},              // U+D7FF, just below the surrogates
      {"abc\x80", false, 3},                     // lone continuation byte
      {"\xC0\xAF", false, 0},                    // overlong '/'
      {"\xC1\xBF", false, 0},                    // overlong
      {"\xE0\x80\xAF", false, 0},                // overlong 3-byte
      {"\xF0\x80\x80\xAF", false, 0},            // overlong 4-byte
      {"\xED\xA0\x80", false, 0},                // surrogate U+D800
      {"\xED\xBF\xBF", false, 0},                // surrogate U+DFFF
      {"\xF4\x90\x80\x80", false, 0},            // above U+10FFFF
      {"\xF5\x80\x80\x80", false, 0},            // F5 never appears
      {"\xFF", false, 0},
      {"ok\xC3", false, 2},                      // truncated at the end
      {"\xE2\x82", false, 0},                    // truncated
      {"\xE2\x28\xA1", false, 0},                // bad second byte
      {"0123456789\xE2\x82\xAC\xE2\x82", false, 13},  // after the fast path
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(valid_utf8(c.text) == c.valid);
    CHECK(find_invalid_utf8(c.text) == c.first_bad);
  }
}

TEST_CASE("sanitize_utf8 replaces maximal ill-formed subparts with U+FFFD") {
  const std::string R = "\xEF\xBF\xBD";
  struct Case {
    std::string_view in;
    std::string out;
  };
  const Case cases[] = {
      {"h\xC3\xA9llo", "h\xC3\xA9llo"},
      {"a\x80z", "a" + R + "z"},
      {"\xE2\x82", R},                   // one maximal subpart
      {"\xE2\x82z", R + "z"},
      {"\xF0\x9F\x98", R},               // truncated emoji: one U+FFFD
      {"\xC0\xAF", R + R},               // C0 is never valid, AF a lone continuation
      {"\xED\xA0\x80", R + R + R},       // surrogate: no valid prefix beyond ED
      {"\xF4\x90\x80\x80", R + R + R + R},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(sanitize_utf8(c.in) == c.out);
    CHECK(valid_utf8(sanitize_utf8(c.in)));
  }
}

TEST_CASE("utf8_incomplete_suffix finds an unfinished sequence at the end") {
  struct Case {
    std::string_view in;
    std::size_t held;
  };
  const Case cases[] = {
      {"", 0}, {"abc", 0}, {"a\xC3", 1}, {"a\xC3\xA9", 0}, {"\xE2", 1}, {"\xE2\x82", 2},
      {"\xE2\x82\xAC", 0}, {"\xF0\x9F\x98", 3}, {"\xF0\x9F\x98\x80", 0},
      {"\x80", 0},          // a lone continuation is invalid, not unfinished
      {"\xE0\x80", 0},      // invalid second byte: not a valid prefix
      {"\xC0", 0}, {"\xF5", 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(utf8_incomplete_suffix(c.in) == c.held);
  }
}

}  // namespace
}  // namespace scn::common
