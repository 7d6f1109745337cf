// UTF-8 decoding/encoding and the GPT-2 byte-level mapping.
#include "inference/tokenizer/unicode.h"

#include <array>

namespace scn::inference {

size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

uint32_t decode_utf8(std::string_view s, size_t* pos) {
  const size_t i = *pos;
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const uint8_t c0 = b(0);
  if (c0 < 0x80) {
    *pos = i + 1;
    return c0;
  }
  if (c0 >= 0xC2 && c0 <= 0xDF && cont(1)) {
    *pos = i + 2;
    return (uint32_t(c0 & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if (c0 >= 0xE0 && c0 <= 0xEF && cont(1) && cont(2)) {
    const uint32_t cpt = (uint32_t(c0 & 0x0F) << 12) | (uint32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    if (cpt >= 0x800 && (cpt < 0xD800 || cpt > 0xDFFF)) {
      *pos = i + 3;
      return cpt;
    }
  }
  if (c0 >= 0xF0 && c0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    const uint32_t cpt = (uint32_t(c0 & 0x07) << 18) | (uint32_t(b(1) & 0x3F) << 12) |
                         (uint32_t(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    if (cpt >= 0x10000 && cpt <= 0x10FFFF) {
      *pos = i + 4;
      return cpt;
    }
  }
  *pos = i + 1;
  return kReplacementChar;
}

std::vector<uint32_t> utf8_to_codepoints(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) out.push_back(decode_utf8(s, &pos));
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) cpt = kReplacementChar;
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

std::string codepoint_to_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const size_t before = pos;
    const uint32_t cpt = decode_utf8(s, &pos);
    // A real U+FFFD in the input is 3 bytes long; a replacement consumes one.
    if (cpt == kReplacementChar && pos - before == 1) return false;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t pos = 0; pos < s.size();) append_utf8(out, decode_utf8(s, &pos));
  return out;
}

namespace {

// byte -> code point of GPT-2's bytes_to_unicode().
struct ByteLevelTable {
  std::array<uint32_t, 256> cpt{};
  std::array<std::string, 256> utf8;
  std::array<int16_t, 256 + 68> byte_of;  // code point -> byte, -1 outside the mapping
  ByteLevelTable() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      cpt[b] = printable ? b : next++;
      utf8[b] = codepoint_to_utf8(cpt[b]);
      byte_of[cpt[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTable& byte_table() {
  static const ByteLevelTable table;
  return table;
}

}  // namespace

std::string byte_level_encode(std::string_view raw) {
  const auto& t = byte_table();
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += t.utf8[static_cast<uint8_t>(c)];
  return out;
}

std::optional<uint8_t> byte_level_byte(uint32_t cpt) {
  const auto& t = byte_table();
  if (cpt >= t.byte_of.size() || t.byte_of[cpt] < 0) return std::nullopt;
  return static_cast<uint8_t>(t.byte_of[cpt]);
}

}  // namespace scn::inference
