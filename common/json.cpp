#include "common/json.h"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>

namespace scn::common {

namespace json = boost::json;

namespace {

std::string where(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " +
         std::to_string(offset) + ")";
}

Status type_error(std::string_view key, std::string_view want, const json::value& got) {
  return Status::invalid_argument("field '" + std::string(key) + "' must be " + std::string(want) +
                                  " (got " + std::string(json_type_name(got)) + ")");
}

Status missing(std::string_view key) {
  return Status::invalid_argument("field '" + std::string(key) + "' is required");
}

// The field, or nullptr when absent or null.
const json::value* field(const JsonObject& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return (v && !v->is_null()) ? v : nullptr;
}

Result<std::int64_t> as_int(std::string_view key, const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return Status::invalid_argument("field '" + std::string(key) + "' is out of range");
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && d == std::floor(d)) {
      if (d < -9.2e18 || d > 9.2e18)
        return Status::invalid_argument("field '" + std::string(key) + "' is out of range");
      return static_cast<std::int64_t>(d);
    }
  }
  return type_error(key, "an integer", v);
}

Result<double> as_number(std::string_view key, const json::value& v) {
  if (v.is_number()) return v.to_number<double>();
  return type_error(key, "a number", v);
}

Result<std::string> as_string(std::string_view key, const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return type_error(key, "a string", v);
}

Result<bool> as_bool(std::string_view key, const json::value& v) {
  if (v.is_bool()) return v.get_bool();
  return type_error(key, "a boolean", v);
}

template <typename T, typename Conv>
Result<T> get_or(const JsonObject& obj, std::string_view key, T fallback, Conv conv) {
  const json::value* v = field(obj, key);
  if (!v) return fallback;
  return conv(key, *v);
}

template <typename T, typename Conv>
Result<std::optional<T>> get_opt(const JsonObject& obj, std::string_view key, Conv conv) {
  const json::value* v = field(obj, key);
  if (!v) return std::optional<T>();
  auto r = conv(key, *v);
  if (!r.is_ok()) return r.status();
  return std::optional<T>(std::move(r).value());
}

template <typename T, typename Conv>
Result<T> require(const JsonObject& obj, std::string_view key, Conv conv) {
  const json::value* v = field(obj, key);
  if (!v) return missing(key);
  return conv(key, *v);
}

// Whether every number in `v` is finite. Boost.JSON reads 1e400 as infinity
// and would write it back as `Infinity`, which is not JSON: such a body is
// refused instead of being forwarded broken. Depth is bounded by max_depth.
bool all_finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& e : v.get_array()) if (!all_finite(e)) return false;
      return true;
    case json::kind::object:
      for (const auto& kv : v.get_object()) if (!all_finite(kv.value())) return false;
      return true;
    default: return true;
  }
}

}  // namespace

Result<json::value> parse_json(std::string_view text, std::size_t max_depth) {
  std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    return Status::invalid_argument("invalid JSON: not valid UTF-8 at " + where(text, bad));
  try {
    json::parse_options opts;
    opts.max_depth = max_depth;
    json::parser p(json::storage_ptr(), opts);
    boost::system::error_code ec;
    std::size_t n = p.write_some(text.data(), text.size(), ec);
    if (!ec && n < text.size()) {
      // A complete value followed by more than whitespace.
      return Status::invalid_argument("invalid JSON at " + where(text, n) +
                                      ": unexpected characters after the value");
    }
    if (ec == json::error::too_deep) {
      return Status::invalid_argument("invalid JSON: nested deeper than " +
                                      std::to_string(max_depth) + " levels");
    }
    if (ec) {
      if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return Status::invalid_argument("invalid JSON: empty input");
      return Status::invalid_argument("invalid JSON at " + where(text, n) + ": " + ec.message());
    }
    json::value v = p.release();
    if (!all_finite(v)) return Status::invalid_argument("invalid JSON: a number is out of range (not finite)");
    return v;
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("invalid JSON: ") + e.what());
  }
}

Result<json::object> parse_json_object(std::string_view text, std::size_t max_depth) {
  SCN_ASSIGN_OR_RETURN(json::value v, parse_json(text, max_depth));
  if (!v.is_object())
    return Status::invalid_argument("expected a JSON object, got " + std::string(json_type_name(v)));
  return std::move(v.as_object());
}

std::string to_json(const json::value& value) { return json::serialize(value); }

std::string_view json_type_name(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "bool";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

Result<std::int64_t> get_int(const JsonObject& obj, std::string_view key, std::int64_t fallback) {
  return get_or<std::int64_t>(obj, key, fallback, as_int);
}
Result<std::optional<std::int64_t>> get_optional_int(const JsonObject& obj, std::string_view key) {
  return get_opt<std::int64_t>(obj, key, as_int);
}
Result<std::int64_t> require_int(const JsonObject& obj, std::string_view key) {
  return require<std::int64_t>(obj, key, as_int);
}

Result<double> get_number(const JsonObject& obj, std::string_view key, double fallback) {
  return get_or<double>(obj, key, fallback, as_number);
}
Result<std::optional<double>> get_optional_number(const JsonObject& obj, std::string_view key) {
  return get_opt<double>(obj, key, as_number);
}
Result<double> require_number(const JsonObject& obj, std::string_view key) {
  return require<double>(obj, key, as_number);
}

Result<std::string> get_string(const JsonObject& obj, std::string_view key, std::string_view fallback) {
  return get_or<std::string>(obj, key, std::string(fallback), as_string);
}
Result<std::optional<std::string>> get_optional_string(const JsonObject& obj, std::string_view key) {
  return get_opt<std::string>(obj, key, as_string);
}
Result<std::string> require_string(const JsonObject& obj, std::string_view key) {
  return require<std::string>(obj, key, as_string);
}

Result<bool> get_bool(const JsonObject& obj, std::string_view key, bool fallback) {
  return get_or<bool>(obj, key, fallback, as_bool);
}
Result<std::optional<bool>> get_optional_bool(const JsonObject& obj, std::string_view key) {
  return get_opt<bool>(obj, key, as_bool);
}
Result<bool> require_bool(const JsonObject& obj, std::string_view key) {
  return require<bool>(obj, key, as_bool);
}

Result<const json::array*> get_array(const JsonObject& obj, std::string_view key) {
  const json::value* v = field(obj, key);
  if (!v) return static_cast<const json::array*>(nullptr);
  if (!v->is_array()) return type_error(key, "an array", *v);
  return &v->get_array();
}
Result<const json::array*> require_array(const JsonObject& obj, std::string_view key) {
  if (!field(obj, key)) return missing(key);
  return get_array(obj, key);
}
Result<const json::object*> get_object(const JsonObject& obj, std::string_view key) {
  const json::value* v = field(obj, key);
  if (!v) return static_cast<const json::object*>(nullptr);
  if (!v->is_object()) return type_error(key, "an object", *v);
  return &v->get_object();
}
Result<const json::object*> require_object(const JsonObject& obj, std::string_view key) {
  if (!field(obj, key)) return missing(key);
  return get_object(obj, key);
}

}  // namespace scn::common
