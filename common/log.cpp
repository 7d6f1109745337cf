#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace scn::common {

namespace {

int initial_level() {
  const char* env = std::getenv("SCN_LOG_LEVEL");
  if (env && *env) {
    if (auto level = parse_log_level(env)) return static_cast<int>(*level);
    std::fprintf(stderr, "scn: ignoring unknown SCN_LOG_LEVEL '%s' (debug, info, warn, error, off)\n", env);
  }
  return static_cast<int>(LogLevel::kInfo);
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{initial_level()};
  return level;
}

std::mutex& sink_mutex() {
  static std::mutex mu;
  return mu;
}

std::function<void(std::string_view)>& sink() {
  static std::function<void(std::string_view)> s;
  return s;
}

char level_letter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 'D';
    case LogLevel::kInfo: return 'I';
    case LogLevel::kWarn: return 'W';
    case LogLevel::kError: return 'E';
    case LogLevel::kOff: break;
  }
  return '?';
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  std::string s;
  for (char c : name) s += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  if (s == "off" || s == "none") return LogLevel::kOff;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "info";
}

void set_log_level(LogLevel level) { level_storage().store(static_cast<int>(level)); }

LogLevel log_level() { return static_cast<LogLevel>(level_storage().load(std::memory_order_relaxed)); }

void set_log_sink(std::function<void(std::string_view line)> s) {
  std::lock_guard lock(sink_mutex());
  sink() = std::move(s);
}

void log_write(LogLevel level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms),
                level_letter(level));
  std::string line(stamp);
  line.append(message);
  std::lock_guard lock(sink_mutex());
  if (sink()) {
    sink()(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace scn::common
