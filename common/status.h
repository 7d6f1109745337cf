// Status and Result<T>: how every scn function reports an expected failure.
//
// Contract:
//  - A Status is either OK or carries a Code and a human-readable message.
//  - Result<T> holds either a T or a non-OK Status; reading value() of a
//    failed Result is a programming error (asserts).
//  - Exceptions thrown by libraries are caught at each folder's boundary and
//    turned into a Status; they never cross a public header of scn.
//  - Codes map one-to-one onto HTTP statuses (http_status()) so servers can
//    answer `{"error": {"type": ..., "message": ...}}` without guessing.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace scn {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // 400: malformed request or input data
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kConflict,          // 409
  kTooLarge,          // 413
  kUnprocessable,     // 422: well-formed but semantically unsupported
  kResourceExhausted, // 429: queue full, rate limited
  kCancelled,         // 499: the client went away
  kInternal,          // 500
  kUnavailable,       // 503
  kCorruptData,       // 400 when from a request, else an error loading a file
  kIoError,           // 500: file system / socket failure
};

class Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status too_large(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status unprocessable(std::string m) { return {Code::kUnprocessable, std::move(m)}; }
  static Status exhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
  static Status cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status corrupt(std::string m) { return {Code::kCorruptData, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status permission_denied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_argument: <message>" (or "ok").
  std::string to_string() const;
  // The HTTP status this error is answered with.
  int http_status() const;
  // The OpenAI-style error type string ("invalid_request_error", ...).
  std::string_view error_type() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view code_name(Code code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {            // NOLINT
    assert(!std::get<Status>(v_).is_ok() && "Result from an OK status has no value");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(is_ok()); return std::get<T>(v_); }
  const T& value() const& { assert(is_ok()); return std::get<T>(v_); }
  T&& value() && { assert(is_ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace scn

// Propagates a non-OK Status (or the Status of a failed Result) to the caller.
#define SCN_RETURN_IF_ERROR(expr)                    \
  do {                                               \
    auto&& _scn_st = (expr);                         \
    if (!_scn_st.is_ok()) return ::scn::detail_status_of(_scn_st); \
  } while (0)

#define SCN_CONCAT_INNER(a, b) a##b
#define SCN_CONCAT(a, b) SCN_CONCAT_INNER(a, b)
// SCN_ASSIGN_OR_RETURN(auto x, make_x()); declares x from a Result or returns its Status.
#define SCN_ASSIGN_OR_RETURN(decl, expr) \
  SCN_ASSIGN_OR_RETURN_IMPL(SCN_CONCAT(_scn_res_, __LINE__), decl, expr)
#define SCN_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.is_ok()) return tmp.status();           \
  decl = std::move(tmp).value()

namespace scn {
inline const Status& detail_status_of(const Status& s) { return s; }
template <typename T>
const Status& detail_status_of(const Result<T>& r) { return r.status(); }
}  // namespace scn
