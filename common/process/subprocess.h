// Subprocess: start a program and supervise it (node agents start `scn infer`
// workers; `scn up` and the end-to-end tests start whole platforms).
//
// Contract:
//  - spawn() forks and execs options.argv (argv[0] is a path, or a name looked
//    up in PATH) with the parent's environment plus options.env (overriding
//    same-named variables), in options.working_dir when not empty. stdout and
//    stderr go to options.log_path (created, appended) when not empty, else
//    they are inherited. stdin is /dev/null.
//  - Failure to start (no such program, not executable, bad working dir) is a
//    Status (kNotFound / kPermissionDenied / kIoError) returned by spawn():
//    the child reports exec errors through a close-on-exec pipe.
//  - kill_with_parent: the child gets PR_SET_PDEATHSIG(SIGKILL), so it dies
//    when the *thread* that spawned it ends (also when the parent is
//    SIGKILLed). Spawn long-lived children from a long-lived thread.
//  - new_process_group: the child leads its own process group, so a Ctrl-C in
//    the terminal reaches only the parent, and signal()/terminate() reach the
//    child's own children too.
//  - poll() never blocks; wait_for() blocks at most `timeout`. Both reap the
//    child once; afterwards exit_status() keeps answering. The status is the
//    exit code, or 128 + signal number when killed by a signal.
//  - terminate() sends SIGTERM, waits up to `grace`, then SIGKILL, and returns
//    the exit status. The destructor terminates a child still running.
//  - A Subprocess is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace scn::process {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
  std::string log_path;
  bool kill_with_parent = true;
  bool new_process_group = true;
};

class Subprocess {
 public:
  static Result<std::unique_ptr<Subprocess>> spawn(const SpawnOptions& options);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit status once the child has exited (and was reaped), else nullopt.
  std::optional<int> poll();
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  std::optional<int> exit_status() const { return status_; }
  bool running() { return !poll().has_value(); }
  // Sends `signo` (to the process group when new_process_group). No-op once reaped.
  void signal(int signo);
  int terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

 private:
  Subprocess(pid_t pid, bool group) : pid_(pid), group_(group) {}
  pid_t pid_ = -1;
  bool group_ = false;
  std::optional<int> status_;
};

// The absolute path of the running executable (/proc/self/exe), for
// starting more `scn` processes.
std::string self_executable();

}  // namespace scn::process
