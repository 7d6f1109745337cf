#include "common/log.h"

#include <doctest/doctest.h>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

namespace scn::common {
namespace {

struct CaptureLog {
  CaptureLog() {
    saved = log_level();
    set_log_sink([this](std::string_view line) {
      std::lock_guard lock(mu);
      lines.emplace_back(line);
    });
  }
  ~CaptureLog() {
    set_log_sink({});
    set_log_level(saved);
  }
  std::mutex mu;
  std::vector<std::string> lines;
  LogLevel saved;
};

TEST_CASE("log levels filter, lines carry a timestamp and a level letter") {
  CaptureLog cap;
  set_log_level(LogLevel::kInfo);
  log_debug("hidden");
  log_info("loaded ", 3, " tensors, ", 1.5, " GiB");
  log_warn("w");
  set_log_level(LogLevel::kError);
  log_warn("hidden too");
  log_error("e");
  set_log_level(LogLevel::kOff);
  log_error("off");
  REQUIRE(cap.lines.size() == 3);
  CHECK(std::regex_match(cap.lines[0],
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z I loaded 3 tensors, 1.5 GiB)")));
  CHECK(cap.lines[1].ends_with(" W w"));
  CHECK(cap.lines[2].ends_with(" E e"));
}

TEST_CASE("parse_log_level") {
  CHECK(parse_log_level("DEBUG") == LogLevel::kDebug);
  CHECK(parse_log_level("info") == LogLevel::kInfo);
  CHECK(parse_log_level("warning") == LogLevel::kWarn);
  CHECK(parse_log_level("Error") == LogLevel::kError);
  CHECK(parse_log_level("off") == LogLevel::kOff);
  CHECK(parse_log_level("loud") == std::nullopt);
  CHECK(log_level_name(LogLevel::kWarn) == "warn");
}

TEST_CASE("lines from many threads never interleave") {
  CaptureLog cap;
  set_log_level(LogLevel::kInfo);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) log_info("thread ", t, " line ", i, " ", std::string(50, 'x'));
    });
  for (auto& th : threads) th.join();
  REQUIRE(cap.lines.size() == 800);
  for (const auto& l : cap.lines) CHECK(l.ends_with(std::string(50, 'x')));
}

}  // namespace
}  // namespace scn::common
