// ScnProcess: one `scn <command> ...` child process of the platform
// (scheduler, broker, agent) with its log file, startable again after a stop
// — what `scn up` and the end-to-end tests run.
//
// Contract:
//  - start() spawns `binary args...` (common/process/subprocess.h: own
//    process group, dies with the thread that started it), appending stdout
//    and stderr to log_path. Starting a running process is kConflict.
//  - start_listening(port, timeout) = start() and wait until 127.0.0.1:port
//    accepts connections; if the process exits first (or the time passes),
//    the Status quotes the tail of its log.
//  - stop() sends SIGTERM, waits up to `grace`, then SIGKILLs; kill() sends
//    SIGKILL to the process group and reaps it. Both are no-ops when it is
//    not running; both answer the exit status (or -1 when not running).
//    After wait() has seen the exit, start() may run it again.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace scn::process {
class Subprocess;
}

namespace scn::broker {

class ScnProcess {
 public:
  ScnProcess(std::string name, std::string binary, std::vector<std::string> args,
             std::filesystem::path log_path);
  ~ScnProcess();
  ScnProcess(const ScnProcess&) = delete;
  ScnProcess& operator=(const ScnProcess&) = delete;

  Status start();
  Status start_listening(int port, std::chrono::milliseconds timeout);
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));
  int kill();
  // Sends `signo` to its process group; wait() waits up to `timeout` for the
  // exit status (nullopt: still running or never started).
  void signal(int signo);
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Variables added to (or overriding) the environment of the next start().
  void set_env(std::vector<std::pair<std::string, std::string>> env) { env_ = std::move(env); }
  bool running();
  int pid() const;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& args() const { return args_; }
  std::vector<std::string>& mutable_args() { return args_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  std::string log_tail(int lines = 30) const;

 private:
  std::string name_;
  std::string binary_;
  std::vector<std::string> args_;
  std::filesystem::path log_path_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::unique_ptr<process::Subprocess> child_;
};

}  // namespace scn::broker
