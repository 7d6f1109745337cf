// UTF-8 decoding with replacement and the GPT-2 byte-level mapping.
#include "inference/tokenizer/unicode.h"

#include <doctest/doctest.h>

namespace scn::inference {

TEST_CASE("unicode: strict decoding, replacement per bad byte, byte-level mapping") {
  CHECK(utf8_to_codepoints("a\xC3\xA9\xF0\x9F\xA6\x99") == std::vector<uint32_t>{'a', 0xE9, 0x1F999});
  // Overlong, surrogate, truncated and stray bytes: one U+FFFD each.
  CHECK(utf8_to_codepoints("\xC0\x80") == std::vector<uint32_t>{0xFFFD, 0xFFFD});
  CHECK(utf8_to_codepoints("\xED\xA0\x80") == std::vector<uint32_t>{0xFFFD, 0xFFFD, 0xFFFD});
  CHECK(utf8_to_codepoints("\xE2\x82") == std::vector<uint32_t>{0xFFFD, 0xFFFD});
  CHECK(utf8_to_codepoints("\x80z") == std::vector<uint32_t>{0xFFFD, 'z'});
  CHECK(is_valid_utf8("plain \xEF\xBF\xBD ok"));
  CHECK_FALSE(is_valid_utf8("\xFF"));
  CHECK(sanitize_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(codepoint_to_utf8(0x110000) == "\xEF\xBF\xBD");
  CHECK(utf8_sequence_length(0xF0) == 4);
  CHECK(utf8_sequence_length(0x80) == 1);

  CHECK(byte_level_encode(" a\n") == "\xC4\xA0" "a\xC4\x8A");  // "Ġ", "a", "Ċ"
  for (int b = 0; b < 256; ++b) {
    const std::string enc = byte_level_encode(std::string(1, static_cast<char>(b)));
    size_t pos = 0;
    const uint32_t cpt = decode_utf8(enc, &pos);
    CHECK(pos == enc.size());
    CHECK(byte_level_byte(cpt) == static_cast<uint8_t>(b));
  }
  CHECK_FALSE(byte_level_byte(0x20).has_value());
  CHECK_FALSE(byte_level_byte(0x144).has_value());
}

}  // namespace scn::inference
