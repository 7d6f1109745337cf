// JSON through Boost.JSON: parsing with clear errors, and typed field access
// for request objects.
//
// Contract:
//  - parse_json never throws. Errors are kInvalidArgument with a message that
//    says what is wrong and where ("invalid JSON at line 2, column 5 (byte
//    17): syntax error"); input that is not valid UTF-8 is rejected with the
//    byte offset; nesting deeper than `max_depth` is rejected.
//  - The getters read one field of an object. A missing field or a JSON null
//    counts as absent: get_* return the fallback, get_optional_* nullopt,
//    require_* an error "field 'model' is required". A field of the wrong type
//    gives "field 'max_tokens' must be an integer" (kInvalidArgument).
//  - Integers: JSON integers, and numbers with no fractional part (16.0),
//    within int64; numbers: any JSON number.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/utf8.h"  // valid_utf8, sanitize_utf8

namespace scn::common {

inline constexpr std::size_t kDefaultJsonMaxDepth = 64;

Result<boost::json::value> parse_json(std::string_view text,
                                      std::size_t max_depth = kDefaultJsonMaxDepth);
// parse_json, then requires an object ("request body must be a JSON object").
Result<boost::json::object> parse_json_object(std::string_view text,
                                              std::size_t max_depth = kDefaultJsonMaxDepth);

// The JSON text of a value (compact).
std::string to_json(const boost::json::value& value);
// The name of a value's JSON type: "null", "bool", "integer", "number", "string", "array", "object".
std::string_view json_type_name(const boost::json::value& value);

using JsonObject = boost::json::object;

Result<std::int64_t> get_int(const JsonObject& obj, std::string_view key, std::int64_t fallback);
Result<std::optional<std::int64_t>> get_optional_int(const JsonObject& obj, std::string_view key);
Result<std::int64_t> require_int(const JsonObject& obj, std::string_view key);

Result<double> get_number(const JsonObject& obj, std::string_view key, double fallback);
Result<std::optional<double>> get_optional_number(const JsonObject& obj, std::string_view key);
Result<double> require_number(const JsonObject& obj, std::string_view key);

Result<std::string> get_string(const JsonObject& obj, std::string_view key, std::string_view fallback);
Result<std::optional<std::string>> get_optional_string(const JsonObject& obj, std::string_view key);
Result<std::string> require_string(const JsonObject& obj, std::string_view key);

Result<bool> get_bool(const JsonObject& obj, std::string_view key, bool fallback);
Result<std::optional<bool>> get_optional_bool(const JsonObject& obj, std::string_view key);
Result<bool> require_bool(const JsonObject& obj, std::string_view key);

// nullptr when absent or null.
Result<const boost::json::array*> get_array(const JsonObject& obj, std::string_view key);
Result<const boost::json::array*> require_array(const JsonObject& obj, std::string_view key);
Result<const boost::json::object*> get_object(const JsonObject& obj, std::string_view key);
Result<const boost::json::object*> require_object(const JsonObject& obj, std::string_view key);

}  // namespace scn::common
