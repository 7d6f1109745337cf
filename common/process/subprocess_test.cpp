#include "common/process/subprocess.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/testing.h"

namespace scn::process {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// True while `pid` exists and is not a zombie.
bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  return line[close + 2] != 'Z';
}

bool wait_dead(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_alive(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return !process_alive(pid);
}

// SpawnOptions without designated initializers (-Wmissing-field-initializers).
SpawnOptions opts(std::vector<std::string> argv, std::string working_dir = {},
                  std::string log_path = {}, bool kill_with_parent = true) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.working_dir = std::move(working_dir);
  o.log_path = std::move(log_path);
  o.kill_with_parent = kill_with_parent;
  return o;
}

std::unique_ptr<Subprocess> must_spawn(SpawnOptions o) {
  auto r = Subprocess::spawn(o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

TEST_CASE("exit codes and signals") {
  struct Case {
    std::string script;
    int status;
  };
  const Case cases[] = {
      {"exit 0", 0},
      {"exit 3", 3},
      {"exit 255", 255},
      {"kill -TERM $$", 128 + SIGTERM},
      {"kill -KILL $$", 128 + SIGKILL},
      {"kill -SEGV $$", 128 + SIGSEGV},
  };
  for (const auto& c : cases) {
    CAPTURE(c.script);
    auto p = must_spawn(opts({"sh", "-c", c.script}));
    auto st = p->wait_for(5s);
    REQUIRE(st.has_value());
    CHECK(*st == c.status);
    CHECK(p->exit_status() == c.status);
    CHECK(p->poll() == c.status);  // keeps answering after the reap
    CHECK_FALSE(p->running());
  }
}

TEST_CASE("start failures are statuses") {
  testing::TempDir dir;
  std::ofstream(dir.file("not-exec")) << "#!/bin/sh\nexit 0\n";
  struct Case {
    SpawnOptions options;
    Code code;
  };
  const Case cases[] = {
      {opts({"scn-no-such-program-xyz"}), Code::kNotFound},
      {opts({"/nonexistent/dir/prog"}), Code::kNotFound},
      {opts({dir.file("not-exec")}), Code::kPermissionDenied},
      {opts({"true"}, "/nonexistent/dir"), Code::kNotFound},
      {opts({"true"}, "", "/nonexistent/dir/log"), Code::kNotFound},
      {opts({}), Code::kInvalidArgument},
  };
  for (const auto& c : cases) {
    CAPTURE(c.options.argv.empty() ? std::string() : c.options.argv[0]);
    auto r = Subprocess::spawn(c.options);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == c.code);
  }
}

TEST_CASE("environment, working dir and log file") {
  testing::TempDir dir;
  std::string log = dir.file("out.log");
  std::ofstream(log) << "earlier\n";  // appended, not truncated
  ::setenv("SCN_SUBPROCESS_TEST_INHERITED", "from-parent", 1);
  ::setenv("SCN_SUBPROCESS_TEST_OVERRIDE", "old", 1);
  SpawnOptions o = opts({"sh", "-c",
                         "echo \"$SCN_SUBPROCESS_TEST_INHERITED $SCN_SUBPROCESS_TEST_OVERRIDE $EXTRA\"; "
                         "pwd; echo to-stderr >&2; read x || echo stdin-empty"},
                        dir.path().string(), log);
  o.env = {{"SCN_SUBPROCESS_TEST_OVERRIDE", "new"}, {"EXTRA", "x y"}};
  auto p = must_spawn(o);
  REQUIRE(p->wait_for(5s) == 0);
  std::string want = "earlier\nfrom-parent new x y\n" +
                     std::filesystem::canonical(dir.path()).string() +
                     "\nto-stderr\nstdin-empty\n";
  CHECK(read_file(log) == want);
}

TEST_CASE("terminate: SIGTERM, then SIGKILL after the grace") {
  testing::TempDir dir;
  std::string ready = dir.file("ready");
  SUBCASE("a child that obeys SIGTERM") {
    auto p = must_spawn(opts({"sleep", "100"}));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(p->terminate(5s) == 128 + SIGTERM);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  }
  SUBCASE("a child that ignores SIGTERM") {
    auto p = must_spawn(opts({"sh", "-c", "trap '' TERM; touch " + ready + "; "
                                                   "while true; do sleep 0.05; done"}));
    for (int i = 0; i < 500 && !std::filesystem::exists(ready); ++i) {
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(std::filesystem::exists(ready));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(p->terminate(300ms) == 128 + SIGKILL);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 300ms);
    CHECK(took < 3s);
    CHECK(p->terminate() == 128 + SIGKILL);  // idempotent
  }
}

TEST_CASE("signal reaches the child's own children (process group)") {
  testing::TempDir dir;
  std::string pidfile = dir.file("pid");
  auto p = must_spawn(opts({"sh", "-c", "sleep 100 & echo $! > " + pidfile + "; wait"}));
  pid_t grandchild = 0;
  for (int i = 0; i < 1000 && grandchild == 0; ++i) {
    std::string s = read_file(pidfile);
    if (!s.empty() && s.back() == '\n') grandchild = std::stoi(s);
    else std::this_thread::sleep_for(5ms);
  }
  REQUIRE(grandchild > 0);
  CHECK(process_alive(grandchild));
  p->terminate(2s);
  CHECK(wait_dead(grandchild, 3s));
}

TEST_CASE("destructor terminates a running child") {
  pid_t pid = 0;
  {
    auto p = must_spawn(opts({"sleep", "100"}));
    pid = p->pid();
    CHECK(process_alive(pid));
  }
  CHECK_FALSE(process_alive(pid));
}

TEST_CASE("kill_with_parent: the child dies when its parent is SIGKILLed") {
  // An intermediate process (a fork of this test) spawns `sleep 100` and
  // reports its pid; then the intermediate is SIGKILLed.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) {
    ::close(fds[0]);
    auto r = Subprocess::spawn(opts({"sleep", "100"}));
    pid_t child = r.is_ok() ? r.value()->pid() : -1;
    (void)!::write(fds[1], &child, sizeof child);
    while (true) ::pause();
  }
  ::close(fds[1]);
  pid_t child = -1;
  REQUIRE(::read(fds[0], &child, sizeof child) == static_cast<ssize_t>(sizeof child));
  ::close(fds[0]);
  REQUIRE(child > 0);
  CHECK(process_alive(child));
  ::kill(middle, SIGKILL);
  int st = 0;
  ::waitpid(middle, &st, 0);
  CHECK(wait_dead(child, 5s));
}

TEST_CASE("kill_with_parent follows the spawning thread; opting out keeps the child") {
  pid_t with = 0, without = 0;
  std::unique_ptr<Subprocess> keep_with, keep_without;
  std::thread t([&] {
    keep_with = must_spawn(opts({"sleep", "100"}));
    keep_without = must_spawn(opts({"sleep", "100"}, "", "", false));
    with = keep_with->pid();
    without = keep_without->pid();
  });
  t.join();
  CHECK(wait_dead(with, 5s));
  CHECK(process_alive(without));
  CHECK(keep_with->wait_for(2s) == 128 + SIGKILL);
  CHECK(keep_without->terminate(2s) == 128 + SIGTERM);
}

TEST_CASE("self_executable") {
  std::string self = self_executable();
  REQUIRE_FALSE(self.empty());
  CHECK(std::filesystem::equivalent(self, "/proc/self/exe"));
}

}  // namespace
}  // namespace scn::process
