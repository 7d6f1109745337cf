#include "common/process/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace scn::process {
namespace {

// What the child writes to the error pipe when it cannot exec.
struct ChildError {
  int stage;  // kStage*
  int err;    // errno
};
constexpr int kStageChdir = 1;
constexpr int kStageDup = 2;
constexpr int kStageExec = 3;
constexpr int kStageParentGone = 4;

Status errno_status(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::not_found(msg);
    case EACCES:
    case EPERM:
      return Status::permission_denied(msg);
    default:
      return Status::io_error(msg);
  }
}

int decode_wait_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

// Finds `name` in PATH (from the child's environment) like execvp would.
Result<std::string> resolve_program(const std::string& name, const std::string& path_var) {
  if (name.empty()) return Status::invalid_argument("spawn: empty program name");
  if (name.find('/') != std::string::npos) {
    struct stat sb {};
    if (::stat(name.c_str(), &sb) != 0) return errno_status(errno, "spawn " + name);
    if (S_ISDIR(sb.st_mode)) return Status::permission_denied("spawn " + name + ": is a directory");
    return name;
  }
  bool found_not_executable = false;
  size_t begin = 0;
  while (begin <= path_var.size()) {
    size_t end = path_var.find(':', begin);
    if (end == std::string::npos) end = path_var.size();
    std::string dir = path_var.substr(begin, end - begin);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat sb {};
    if (::stat(candidate.c_str(), &sb) == 0 && S_ISREG(sb.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      found_not_executable = true;
    }
    begin = end + 1;
  }
  if (found_not_executable) {
    return Status::permission_denied("spawn " + name + ": not executable");
  }
  return Status::not_found("spawn " + name + ": not found in PATH");
}

void write_child_error(int fd, int stage, int err) {
  ChildError e{stage, err};
  ssize_t n;
  do {
    n = ::write(fd, &e, sizeof e);
  } while (n < 0 && errno == EINTR);
}

// Closes every descriptor >= 3 except `keep` (best effort; the ones we opened
// ourselves are close-on-exec anyway).
void close_other_fds(int keep) {
#ifdef SYS_close_range
  if (keep > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
#else
  (void)keep;
#endif
}

}  // namespace

Result<std::unique_ptr<Subprocess>> Subprocess::spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return Status::invalid_argument("spawn: empty argv");

  // Everything the child needs is prepared here: after fork() only
  // async-signal-safe calls are allowed (other threads may hold malloc locks).
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const auto& [k, v] : options.env) {
      if (k == key) overridden = true;
    }
    if (!overridden) env_strings.emplace_back(kv);
  }
  std::string path_var = "/usr/local/bin:/usr/bin:/bin";
  if (const char* p = std::getenv("PATH")) path_var = p;
  for (const auto& [k, v] : options.env) {
    env_strings.push_back(k + "=" + v);
    if (k == "PATH") path_var = v;
  }
  SCN_ASSIGN_OR_RETURN(std::string program, resolve_program(options.argv[0], path_var));

  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return errno_status(errno, "spawn: open /dev/null");
  int log_fd = -1;
  if (!options.log_path.empty()) {
    log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      Status st = errno_status(errno, "spawn: open log " + options.log_path);
      ::close(null_fd);
      return st;
    }
  }
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    Status st = errno_status(errno, "spawn: pipe");
    ::close(null_fd);
    if (log_fd >= 0) ::close(log_fd);
    return st;
  }
  const char* working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  const pid_t parent_pid = ::getpid();
  const bool group = options.new_process_group;
  const bool pdeath = options.kill_with_parent;

  pid_t pid = ::fork();
  if (pid < 0) {
    Status st = errno_status(errno, "spawn: fork");
    ::close(null_fd);
    if (log_fd >= 0) ::close(log_fd);
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    return st;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    int wfd = err_pipe[1];
    if (group) ::setpgid(0, 0);
    if (pdeath) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent_pid) {
        write_child_error(wfd, kStageParentGone, ESRCH);
        ::_exit(127);
      }
    }
    // The spawning thread may block signals or ignore SIGPIPE: the program
    // starts with a clean slate.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; ++s) {
      if (s == SIGKILL || s == SIGSTOP) continue;
      ::sigaction(s, &dfl, nullptr);
    }
    int out_fd = log_fd >= 0 ? log_fd : -1;
    if (::dup2(null_fd, 0) < 0 ||
        (out_fd >= 0 && (::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0))) {
      write_child_error(wfd, kStageDup, errno);
      ::_exit(127);
    }
    if (wfd <= 2) {  // keep the error pipe out of the way of 0..2
      wfd = ::fcntl(wfd, F_DUPFD_CLOEXEC, 3);
    }
    close_other_fds(wfd);
    if (working_dir != nullptr && ::chdir(working_dir) != 0) {
      write_child_error(wfd, kStageChdir, errno);
      ::_exit(127);
    }
    ::execve(program.c_str(), argv.data(), envp.data());
    write_child_error(wfd, kStageExec, errno);
    ::_exit(127);
  }

  // Parent.
  if (group) ::setpgid(pid, pid);  // also here, so signal() works at once (may race: ignore)
  ::close(err_pipe[1]);
  ::close(null_fd);
  if (log_fd >= 0) ::close(log_fd);
  ChildError err{};
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    switch (err.stage) {
      case kStageChdir:
        return errno_status(err.err, "spawn: working dir " + options.working_dir);
      case kStageDup:
        return errno_status(err.err, "spawn: redirect output");
      case kStageParentGone:
        return Status::unavailable("spawn: parent exited while starting the child");
      default:
        return errno_status(err.err, "spawn: exec " + program);
    }
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid, group));
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) terminate();
}

std::optional<int> Subprocess::poll() {
  if (status_ || pid_ <= 0) return status_;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = decode_wait_status(st);
  } else if (r < 0 && errno == ECHILD) {
    status_ = 255;  // reaped elsewhere (SIGCHLD ignored): the status is lost
  }
  return status_;
}

std::optional<int> Subprocess::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto s = poll()) return s;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    auto step = std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(5),
                                                                deadline - now);
    std::this_thread::sleep_for(step);
  }
}

void Subprocess::signal(int signo) {
  if (status_ || pid_ <= 0) return;
  if (poll()) return;  // never signal a reaped pid (it may be reused)
  if (group_) {
    if (::kill(-pid_, signo) == 0) return;
  }
  ::kill(pid_, signo);
}

int Subprocess::terminate(std::chrono::milliseconds grace) {
  if (auto s = poll()) return *s;
  signal(SIGTERM);
  if (auto s = wait_for(grace)) return *s;
  signal(SIGKILL);
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, 0);
  } while (r < 0 && errno == EINTR);
  status_ = r == pid_ ? decode_wait_status(st) : 255;
  return *status_;
}

std::string self_executable() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace scn::process
