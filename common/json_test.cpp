#include "common/json.h"

#include <doctest/doctest.h>

namespace scn::common {
namespace {

TEST_CASE("parse_json accepts valid documents") {
  auto v = parse_json(R"({"a": [1, 2.5, "x", null, true], "b": {"c": -3}})");
  REQUIRE(v.is_ok());
  CHECK(v->at("a").as_array().size() == 5);
  CHECK(v->at("b").at("c").as_int64() == -3);
  CHECK(parse_json("  42 \n").is_ok());
  CHECK(parse_json("\"h\xC3\xA9\"").is_ok());
}

TEST_CASE("parse_json errors say what and where") {
  struct Case {
    std::string_view text;
    std::string_view expect;  // substring of the message
  };
  const Case cases[] = {
      {"", "empty input"},
      {"   ", "empty input"},
      {"{\"a\": 1,}", "line 1, column 9"},
      {"{\n  \"a\": tru\n}", "line 2"},
      {"{\"a\": 1} x", "unexpected characters after the value"},
      {"[1, 2", "invalid JSON"},
      {"{\"a\": \"\xC3\x28\"}", "not valid UTF-8 at line 1, column 8 (byte 7)"},
      {"\"\xED\xA0\x80\"", "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto r = parse_json(c.text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find(c.expect) != std::string::npos);
    CHECK(r.status().http_status() == 400);
  }
}

TEST_CASE("parse_json limits the nesting depth") {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = parse_json(deep, 64);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("nested deeper than 64") != std::string::npos);
  CHECK(parse_json(deep, 200).is_ok());
}

TEST_CASE("parse_json_object requires an object") {
  CHECK(parse_json_object("{}").is_ok());
  auto r = parse_json_object("[1]");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message() == "expected a JSON object, got array");
}

TEST_CASE("typed getters: values, defaults, absent and null fields, type errors") {
  auto obj = parse_json_object(R"({"n": 16, "f": 16.0, "h": 1.5, "big": 18446744073709551615,
      "s": "hi", "b": true, "a": [1], "o": {}, "z": null})").value();

  CHECK(get_int(obj, "n", 0).value() == 16);
  CHECK(get_int(obj, "f", 0).value() == 16);
  CHECK(get_int(obj, "missing", 7).value() == 7);
  CHECK(get_int(obj, "z", 7).value() == 7);
  CHECK(get_optional_int(obj, "missing").value() == std::nullopt);
  CHECK(get_optional_int(obj, "n").value() == 16);
  CHECK(get_number(obj, "n", 0).value() == 16.0);
  CHECK(get_number(obj, "h", 0).value() == 1.5);
  CHECK(get_string(obj, "s", "").value() == "hi");
  CHECK(get_string(obj, "missing", "dflt").value() == "dflt");
  CHECK(get_bool(obj, "b", false).value() == true);
  CHECK(get_array(obj, "a").value()->size() == 1);
  CHECK(get_array(obj, "missing").value() == nullptr);
  CHECK(get_object(obj, "o").value() != nullptr);
  CHECK(require_string(obj, "s").value() == "hi");

  struct Case {
    Status status;
    std::string message;
  };
  const Case cases[] = {
      {get_int(obj, "h", 0).status(), "field 'h' must be an integer (got number)"},
      {get_int(obj, "s", 0).status(), "field 's' must be an integer (got string)"},
      {get_int(obj, "big", 0).status(), "field 'big' is out of range"},
      {get_optional_int(obj, "b").status(), "field 'b' must be an integer (got bool)"},
      {get_number(obj, "s", 0).status(), "field 's' must be a number (got string)"},
      {get_string(obj, "n", "").status(), "field 'n' must be a string (got integer)"},
      {get_bool(obj, "s", false).status(), "field 's' must be a boolean (got string)"},
      {get_array(obj, "o").status(), "field 'o' must be an array (got object)"},
      {get_object(obj, "a").status(), "field 'a' must be an object (got array)"},
      {require_int(obj, "max_tokens").status(), "field 'max_tokens' is required"},
      {require_string(obj, "z").status(), "field 'z' is required"},
      {require_bool(obj, "missing").status(), "field 'missing' is required"},
      {require_array(obj, "missing").status(), "field 'missing' is required"},
      {require_number(obj, "s").status(), "field 's' must be a number (got string)"},
  };
  for (const auto& c : cases) {
    CHECK(c.status.code() == Code::kInvalidArgument);
    CHECK(c.status.message() == c.message);
  }
}

TEST_CASE("to_json and json_type_name") {
  auto v = parse_json(R"({"a":[1,"x"]})").value();
  CHECK(to_json(v) == R"({"a":[1,"x"]})");
  CHECK(json_type_name(v) == "object");
  CHECK(json_type_name(boost::json::value(nullptr)) == "null");
}


TEST_CASE("parse_json refuses numbers out of range (found by fuzzing)") {
  // Boost.JSON reads these as infinity and would serialize them as
  // `Infinity`, which no JSON parser reads back.
  for (const char* text : {R"({"prompt": [1, 265555555555555559e55417]})", "[1e400]", R"({"a": {"b": -1e999}})"}) {
    CAPTURE(text);
    auto r = parse_json(text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("out of range") != std::string::npos);
  }
  CHECK(parse_json("[4.5555555555555554E26, -1e300]").is_ok());
}

}  // namespace
}  // namespace scn::common
