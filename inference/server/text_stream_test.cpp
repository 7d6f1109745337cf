#include "inference/server/text_stream.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/utf8.h"

namespace scn::inference {
namespace {

const std::string kFffd(kReplacementChar);

struct StreamCase {
  const char* name;
  std::vector<std::string> stops;
  std::vector<std::string> tokens;   // raw bytes of each token
  std::vector<std::string> pushed;   // what each push() returns
  std::string at_finish;             // what finish() returns
  bool stopped;
};

TEST_CASE("TextStream: table of token sequences") {
  const std::vector<StreamCase> cases = {
      {"plain ascii", {}, {"Once", " upon", " a", " time"}, {"Once", " upon", " a", " time"}, "", false},
      {"SPM byte tokens of 你 (E4 BD A0) held until complete",
       {}, {"\xE4", "\xBD", "\xA0", "!"}, {"", "", "\xE4\xBD\xA0", "!"}, "", false},
      {"4-byte emoji split 2+2", {}, {"a\xF0\x9F", "\x98\x80"}, {"a", "\xF0\x9F\x98\x80"}, "", false},
      {"invalid byte FF becomes U+FFFD", {}, {"a\xFF", "b"}, {"a" + kFffd, "b"}, "", false},
      {"lone continuation byte", {}, {"\x80"}, {kFffd}, "", false},
      {"truncated sequence followed by ascii", {}, {"\xE4\xBD", "x"}, {"", kFffd + "x"}, "", false},
      {"incomplete sequence at the end released as U+FFFD", {}, {"ok", "\xE4\xBD"}, {"ok", ""}, kFffd, false},
      {"overlong C0 80 is two U+FFFD", {}, {"\xC0\x80"}, {kFffd + kFffd}, "", false},
      {"surrogate ED A0 80 is ill-formed", {}, {"\xED\xA0\x80"}, {kFffd + kFffd + kFffd}, "", false},
      {"E0 followed by a bad second byte", {}, {"\xE0\x80"}, {kFffd + kFffd}, "", false},
      {"stop string inside one token", {"\n\n"}, {"Hello\n\nworld"}, {"Hello"}, "", true},
      {"stop string spanning tokens", {"END"}, {"The ", "E", "N", "D", " more"},
       {"The ", "", "", "", ""}, "", true},
      {"stop at the very start", {"Once"}, {"Once", " upon"}, {"", ""}, "", true},
      {"partial stop prefix released when it diverges", {"END"}, {"E", "N", "x"}, {"", "", "ENx"}, "", false},
      {"partial stop prefix at the end released at finish", {"END"}, {"abc E", "N"}, {"abc ", ""}, "EN", false},
      {"earliest of several stops wins", {"cd", "b"}, {"abcd"}, {"a"}, "", true},
      {"multi-byte stop string across byte tokens", {"你"}, {"hi ", "\xE4", "\xBD", "\xA0", "x"},
       {"hi ", "", "", "", ""}, "", true},
      {"empty stop strings are ignored", {""}, {"abc"}, {"abc"}, "", false},
      {"stop after replacement char", {"\xEF\xBF\xBD"}, {"a", "\xFF", "b"}, {"a", "", ""}, "", true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    TextStream ts(c.stops);
    REQUIRE(c.tokens.size() == c.pushed.size());
    std::string all;
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      CAPTURE(i);
      std::string out = ts.push(c.tokens[i]);
      CHECK(out == c.pushed[i]);
      CHECK(common::valid_utf8(out));
      all += out;
    }
    std::string tail = ts.finish();
    CHECK(tail == c.at_finish);
    CHECK(common::valid_utf8(tail));
    all += tail;
    CHECK(ts.stopped() == c.stopped);
    CHECK(ts.emitted_length() == all.size());
    CHECK(ts.push("more") == "");
  }
}

TEST_CASE("TextStream: decoded_length counts complete text, not pending bytes") {
  TextStream ts({"STOP"});
  CHECK(ts.push("ab") == "ab");
  CHECK(ts.decoded_length() == 2);
  CHECK(ts.push("\xE4\xBD") == "");
  CHECK(ts.decoded_length() == 2);
  CHECK(ts.push("\xA0S") == "\xE4\xBD\xA0");
  CHECK(ts.decoded_length() == 6);  // "S" is held as a stop prefix but decoded
  CHECK(ts.emitted_length() == 5);
}

// The whole input in one push, then finish.
std::string decode_all(std::string_view in) {
  Utf8Decoder d;
  std::string out;
  d.push(in, out);
  d.finish(out);
  return out;
}

TEST_CASE("Utf8Decoder: table of inputs") {
  struct Case {
    std::string in;
    bool valid;
    std::string sanitized;
  };
  const std::vector<Case> cases = {
      {"", true, ""},
      {"abc", true, "abc"},
      {"\xE4\xBD\xA0\xE5\xA5\xBD", true, "\xE4\xBD\xA0\xE5\xA5\xBD"},
      {"\xF4\x8F\xBF\xBF", true, "\xF4\x8F\xBF\xBF"},       // U+10FFFF
      {"\xF4\x90\x80\x80", false, kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"\xE4\xBD", false, kFffd},
      {"a\xC3", false, "a" + kFffd},
      {"\xC3(", false, kFffd + "("},
      {"\xF0\x9F\x98", false, kFffd},
      {"\xFE\xFF", false, kFffd + kFffd},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(common::valid_utf8(c.in) == c.valid);
    CHECK(decode_all(c.in) == c.sanitized);
  }
}

TEST_CASE("Utf8Decoder: every split of a mixed string gives the same text") {
  const std::string text = "a\xE4\xBD\xA0\xF0\x9F\x98\x80\xFF\xC3\xA9z";
  const std::string expected = decode_all(text);
  CHECK(expected == "a\xE4\xBD\xA0\xF0\x9F\x98\x80" + kFffd + "\xC3\xA9z");
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8Decoder d;
    std::string out;
    d.push(text.substr(0, cut), out);
    CHECK(common::valid_utf8(out));
    d.push(text.substr(cut), out);
    d.finish(out);
    CHECK(out == expected);
  }
}

}  // namespace
}  // namespace scn::inference
