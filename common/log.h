// Leveled, thread-safe logging to stderr.
//
// Contract:
//  - Levels debug < info < warn < error < off. Messages below the current
//    level cost one atomic load and format nothing.
//  - The level starts from the environment variable SCN_LOG_LEVEL (debug,
//    info, warn, error, off; default info) and can be set by a flag through
//    set_log_level().
//  - Each message is one line "2024-05-01T12:34:56.789Z W message", written
//    whole (lines of different threads never interleave).
//  - Arguments are concatenated with operator<<: log_info("loaded ", n, " tensors").
#pragma once

#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace scn::common {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// "debug", "info", "warn" (or "warning"), "error", "off"; case-insensitive.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

void set_log_level(LogLevel level);
LogLevel log_level();
inline bool log_enabled(LogLevel level);

// Redirects finished lines (without the newline) away from stderr, e.g. in
// tests; an empty function restores stderr.
void set_log_sink(std::function<void(std::string_view line)> sink);

// Writes one line at `level` (no level check).
void log_write(LogLevel level, std::string_view message);

// Concatenates the arguments with operator<<.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return std::move(out).str();
}

template <typename... Args>
void log(LogLevel level, const Args&... args) {
  if (log_enabled(level)) log_write(level, str_cat(args...));
}
template <typename... Args> void log_debug(const Args&... args) { log(LogLevel::kDebug, args...); }
template <typename... Args> void log_info(const Args&... args) { log(LogLevel::kInfo, args...); }
template <typename... Args> void log_warn(const Args&... args) { log(LogLevel::kWarn, args...); }
template <typename... Args> void log_error(const Args&... args) { log(LogLevel::kError, args...); }

inline bool log_enabled(LogLevel level) {
  return level != LogLevel::kOff && static_cast<int>(level) >= static_cast<int>(log_level());
}

}  // namespace scn::common
