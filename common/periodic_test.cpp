#include "common/periodic.h"

#include <doctest/doctest.h>

#include <atomic>

namespace scn::common {
namespace {

using namespace std::chrono_literals;

TEST_CASE("Periodic: calls every period until stopped, never after, and never restarts") {
  std::atomic<int> calls{0};
  Periodic p;
  p.start(5ms, [&] { ++calls; });
  p.start(5ms, [&] { calls += 1000; });  // already running: ignored
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (calls.load() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  CHECK(calls.load() >= 3);
  CHECK(calls.load() < 1000);
  p.stop();
  const int after_stop = calls.load();
  std::this_thread::sleep_for(30ms);
  CHECK(calls.load() == after_stop);
  p.start(1ms, [&] { ++calls; });  // after stop(): ignored
  std::this_thread::sleep_for(20ms);
  CHECK(calls.load() == after_stop);
  p.stop();  // idempotent
}

TEST_CASE("Periodic: stop() returns at once while waiting for a long period") {
  Periodic p;
  p.start(std::chrono::hours(1), [] {});
  const auto t0 = std::chrono::steady_clock::now();
  p.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

}  // namespace
}  // namespace scn::common
