// Helpers for the node agent's tests (header only; included by *_test.cpp).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "node-agent/model_cache.h"
#include "node-agent/supervisor.h"
#include "tests/testing.h"

namespace scn::node_agent::testutil {

inline std::string stories_path() { return testing::shared_path("models/stories260K.gguf"); }

// True when the real model and the scn binary are there; otherwise the test
// is skipped loudly (in CI it fails).
inline bool have_model_and_binary() {
  bool ok = std::filesystem::exists(stories_path()) &&
            std::filesystem::exists(testing::scn_binary());
  if (!ok) {
    if (testing::in_ci()) FAIL("stories260K.gguf or SCN_BINARY missing");
    MESSAGE("skipped: stories260K.gguf or SCN_BINARY (", testing::scn_binary(), ") missing");
  }
  return ok;
}

inline DesiredReplica replica_of_file(const std::string& id, const std::string& service,
                                      const std::string& path) {
  DesiredReplica d;
  d.replica_id = id;
  d.service_id = "svc-id-" + service;
  d.service_name = service;
  d.cpu_threads = 1;
  d.context_length = 64;
  d.model.model_file_id = "mf-" + std::filesystem::path(path).filename().string();
  d.model.file_name = std::filesystem::path(path).filename().string();
  d.model.uri = "file://" + path;
  auto sha = sha256_file(path);
  d.model.sha256 = sha.is_ok() ? sha.value() : std::string(64, '0');
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  d.model.size_bytes = ec ? 0 : static_cast<std::int64_t>(size);
  return d;
}

inline DesiredReplica stories_replica(const std::string& id, const std::string& service) {
  return replica_of_file(id, service, stories_path());
}

inline std::optional<ReplicaReport> wait_for_report(Supervisor& sup, const std::string& id,
                                                    ReplicaState state,
                                                    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& r : sup.report()) {
      if (r.replica_id == id && r.state == state) return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

inline std::string describe(Supervisor& sup) {
  std::string out;
  for (auto& r : sup.report()) {
    out += r.replica_id + " " + std::string(replica_state_name(r.state)) + " '" + r.reason + "'; ";
  }
  return out;
}

// True while `pid` exists and is not a zombie.
inline bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

}  // namespace scn::node_agent::testutil
