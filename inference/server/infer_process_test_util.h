// Test helper: a real `scn infer` child process on a free port, its output
// captured in files, stopped with SIGTERM.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/http/client.h"
#include "tests/testing.h"

extern char** environ;

namespace scn::inference::testutil {

class InferProcess {
 public:
  // Starts `scn infer --model <model> --port <free> <extra...>` with this
  // process's environment plus `env` (NAME=value entries).
  InferProcess(const std::string& model, std::vector<std::string> extra = {},
               std::vector<std::string> env = {})
      : port_(scn::testing::free_port()) {
    std::vector<std::string> args = {scn::testing::scn_binary(), "infer", "--model", model,
                                     "--port", std::to_string(port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string out = dir_.file("stdout"), err = dir_.file("stderr");
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }

  ~InferProcess() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  InferProcess(const InferProcess&) = delete;
  InferProcess& operator=(const InferProcess&) = delete;

  bool spawned() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Polls GET /health until it answers 200 (true), the process exits or
  // `timeout` passes (false).
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::milliseconds(20000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (poll_exit()) return false;
      auto r = http::request("GET", url("/health"), {}, {}, std::chrono::milliseconds(1000));
      if (r.is_ok() && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    return false;
  }

  // The exit code once the process has ended (-signal when killed), polling.
  std::optional<int> poll_exit() {
    if (exit_code_ || pid_ <= 0) return exit_code_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) exit_code_ = decode(st);
    return exit_code_;
  }

  // Waits up to `timeout` for the process to end.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto c = poll_exit()) return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return poll_exit();
  }

  void signal(int signo) {
    if (pid_ > 0 && !exit_code_) ::kill(pid_, signo);
  }

  std::string stdout_text() const { return slurp(dir_.file("stdout")); }
  std::string stderr_text() const { return slurp(dir_.file("stderr")); }

 private:
  static int decode(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return -WTERMSIG(st);
    return -1000;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  scn::testing::TempDir dir_;
  int port_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace scn::inference::testutil
