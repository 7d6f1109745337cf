// UTF-8 and GPT-2 byte-level helpers shared by the tokenizers.
//
// Contract:
//  - Decoding is strict (no overlong forms, no surrogates, nothing above
//    U+10FFFF). Each byte that does not start a valid sequence decodes to
//    U+FFFD and consumes exactly that one byte, so any input decodes without
//    failing (the same replacement rule as llama.cpp's unicode_cpts_from_utf8).
//  - The byte-level mapping is GPT-2's bytes_to_unicode(): printable Latin-1
//    bytes map to themselves, the other 68 bytes to U+0100.. in byte order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scn::inference {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence announced by `lead` judged by its high bits
// alone (1 for ASCII and for stray continuation bytes), as SentencePiece-style
// symbol splitting uses it. Callers clamp it to the bytes left.
size_t utf8_sequence_length(uint8_t lead);

// Decodes the code point at `s[*pos]` and advances *pos; invalid bytes give
// U+FFFD and advance by one. Requires *pos < s.size().
uint32_t decode_utf8(std::string_view s, size_t* pos);

std::vector<uint32_t> utf8_to_codepoints(std::string_view s);
void append_utf8(std::string& out, uint32_t cpt);  // cpt > U+10FFFF appends U+FFFD
std::string codepoint_to_utf8(uint32_t cpt);

bool is_valid_utf8(std::string_view s);
// `s` with every invalid byte replaced by U+FFFD (a copy of `s` when valid).
std::string sanitize_utf8(std::string_view s);

// GPT-2 byte-level encoding of raw bytes: each byte becomes the UTF-8 of its
// mapped code point.
std::string byte_level_encode(std::string_view raw);
// The byte a mapped code point stands for; nullopt for code points outside
// the mapping's range.
std::optional<uint8_t> byte_level_byte(uint32_t cpt);

}  // namespace scn::inference
