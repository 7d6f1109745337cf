// Turning a stream of token bytes into text a client may be sent.
//
// Contract:
//  - Utf8Decoder takes raw bytes in arbitrary pieces and returns only valid
//    UTF-8. The bytes of a sequence that is valid so far but incomplete are
//    held back until it completes; every maximal ill-formed subpart (Unicode
//    "maximal subpart" rule, see common/utf8.h) becomes one U+FFFD.
//    finish() turns a still-incomplete held sequence into one U+FFFD.
//  - TextStream adds stop strings on top: text that could still be the start
//    of a stop string is held back. When a stop string is complete, the text
//    ends just before it, stopped() becomes true and every later push()
//    returns nothing. finish() releases what is held (a partial stop prefix,
//    an incomplete UTF-8 sequence as U+FFFD).
//  - Everything push() and finish() return, concatenated, is the answer's
//    text; each returned piece is valid UTF-8 on its own.
//  - Pure code: no I/O, no threads; one instance per generated choice.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace scn::inference {

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

class Utf8Decoder {
 public:
  // Appends the valid text completed by `bytes` to `out`.
  void push(std::string_view bytes, std::string& out);
  // Appends U+FFFD for a held incomplete sequence (if any) and resets.
  void finish(std::string& out);
  // Bytes held back as the start of an incomplete sequence (0..3).
  size_t pending() const { return pending_.size(); }

 private:
  std::string pending_;
};

class TextStream {
 public:
  // Empty stop strings are ignored.
  explicit TextStream(std::vector<std::string> stop_strings = {});

  // Adds one token's raw bytes; returns the text that may be sent now.
  std::string push(std::string_view bytes);
  // Ends the stream; returns the text still held back.
  std::string finish();

  // A stop string matched (the text ends before it).
  bool stopped() const { return stopped_; }
  // Bytes of valid text decoded so far, counting text held back for stop
  // strings but not the bytes of an incomplete UTF-8 sequence: the offset at
  // which the next pushed token's text starts in the decoded text.
  size_t decoded_length() const { return decoded_length_; }
  // Bytes of text returned so far by push() and finish().
  size_t emitted_length() const { return emitted_length_; }

 private:
  std::string release(bool at_end);

  std::vector<std::string> stops_;
  Utf8Decoder decoder_;
  std::string held_;  // decoded but not yet returned
  size_t decoded_length_ = 0;
  size_t emitted_length_ = 0;
  bool stopped_ = false;
  bool finished_ = false;
};

}  // namespace scn::inference
