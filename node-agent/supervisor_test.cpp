#include "node-agent/supervisor.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/http/client.h"
#include "node-agent/test_util.h"
#include "tests/testing.h"

namespace scn::node_agent {
namespace {

using namespace std::chrono_literals;

TEST_CASE("supervisor runs real scn infer children: ready, crash -> restart, stop") {
  if (!testutil::have_model_and_binary()) return;
  testing::TempDir dir;
  ModelCache cache(dir.file("cache"));
  SupervisorOptions so;
  so.infer_binary = testing::scn_binary();
  so.log_dir = dir.file("logs");
  so.port_min = testing::free_port();
  so.port_max = so.port_min + 50;
  so.backoff_initial = 200ms;
  Supervisor sup(so, cache);
  std::atomic<int> changes{0};
  sup.set_on_change([&] { ++changes; });

  DesiredReplica want = testutil::stories_replica("r-1", "svc-stories");
  sup.set_desired({want});

  // Start -> ready.
  auto ready = testutil::wait_for_report(sup, "r-1", ReplicaState::kReady, 30s);
  REQUIRE_MESSAGE(ready.has_value(), testutil::describe(sup));
  REQUIRE(ready->port.has_value());
  const int port = *ready->port;
  CHECK(port >= so.port_min);
  CHECK(port <= so.port_max);
  CHECK(ready->restarts == 0);
  CHECK(changes.load() >= 1);
  auto models = http::request("GET", "http://127.0.0.1:" + std::to_string(port) + "/v1/models");
  REQUIRE(models.is_ok());
  CHECK(models->status == 200);
  CHECK(models->body.find("\"svc-stories\"") != std::string::npos);
  CHECK(sup.threads_in_use() == 1);
  CHECK(std::filesystem::exists(dir.file("logs") + "/r-1.log"));

  // Crash -> failed with a reason, then restarted (same port) and ready again.
  auto pid = sup.pid_of("r-1");
  REQUIRE(pid.has_value());
  ::kill(*pid, SIGKILL);
  auto failed = testutil::wait_for_report(sup, "r-1", ReplicaState::kFailed, 10s);
  REQUIRE(failed.has_value());
  CHECK(failed->reason.find("exited with status 137") == 0);
  auto again = testutil::wait_for_report(sup, "r-1", ReplicaState::kReady, 30s);
  REQUIRE_MESSAGE(again.has_value(), testutil::describe(sup));
  CHECK(again->restarts == 1);
  CHECK(again->port == port);
  auto new_pid = sup.pid_of("r-1");
  REQUIRE(new_pid.has_value());
  CHECK(*new_pid != *pid);

  // No longer desired -> stopped (reported once), process gone.
  sup.set_desired({});
  std::optional<ReplicaReport> stopped;
  for (int i = 0; i < 1000 && !stopped; ++i) {
    for (auto& r : sup.report()) {
      if (r.replica_id == "r-1" && r.state == ReplicaState::kStopped) stopped = r;
    }
    if (!stopped) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(stopped.has_value());
  CHECK(sup.report().empty());  // forgotten after being reported once
  CHECK_FALSE(testutil::process_alive(*new_pid));
  CHECK_FALSE(http::request("GET", "http://127.0.0.1:" + std::to_string(port) + "/health", {}, {},
                            500ms)
                  .is_ok());
}

TEST_CASE("supervisor: a child that cannot start is failed with its last log line") {
  if (!testutil::have_model_and_binary()) return;
  testing::TempDir dir;
  ModelCache cache(dir.file("cache"));
  // A "model" that is not a GGUF file: scn infer exits 1 and says why.
  std::ofstream(dir.file("junk.gguf")) << "not a gguf file";
  SupervisorOptions so;
  so.infer_binary = testing::scn_binary();
  so.log_dir = dir.file("logs");
  so.port_min = testing::free_port();
  so.port_max = so.port_min + 50;
  so.backoff_initial = 100ms;
  Supervisor sup(so, cache);
  DesiredReplica want = testutil::replica_of_file("r-bad", "svc", dir.file("junk.gguf"));
  sup.set_desired({want});
  auto failed = testutil::wait_for_report(sup, "r-bad", ReplicaState::kFailed, 20s);
  REQUIRE(failed.has_value());
  CHECK(failed->reason.find("exited with status 1: ") == 0);
  CHECK(failed->reason.find("cannot load model") != std::string::npos);
  // Restarted with back-off: the count grows.
  std::optional<ReplicaReport> later;
  for (int i = 0; i < 500; ++i) {
    for (auto& r : sup.report()) {
      if (r.replica_id == "r-bad" && r.restarts >= 2) later = r;
    }
    if (later) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(later.has_value());
}

TEST_CASE("supervisor: a model file that cannot be fetched is failed with the cache's reason") {
  testing::TempDir dir;
  ModelCache cache(dir.file("cache"));
  SupervisorOptions so;
  so.infer_binary = "/bin/false";
  so.log_dir = dir.file("logs");
  Supervisor sup(so, cache);
  DesiredReplica want = testutil::replica_of_file("r-missing", "svc", dir.file("missing.gguf"));
  want.model.sha256 = std::string(64, '0');
  sup.set_desired({want});
  auto failed = testutil::wait_for_report(sup, "r-missing", ReplicaState::kFailed, 10s);
  REQUIRE(failed.has_value());
  CHECK(failed->reason.find("model file: ") == 0);
  CHECK(failed->reason.find("does not exist") != std::string::npos);
}

}  // namespace
}  // namespace scn::node_agent
