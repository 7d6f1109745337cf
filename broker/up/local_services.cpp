#include "broker/up/local_services.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "broker/up/ports.h"
#include "broker/up/up_files.h"
#include "common/log.h"
#include "common/process/subprocess.h"

namespace scn::broker {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string pg_bin(const std::string& program) {
  return (fs::path(env_or("SCN_PG_BIN", "/usr/lib/postgresql/15/bin")) / program).string();
}

// PostgreSQL refuses to run as root: then its programs run as `postgres`.
bool as_root() { return ::geteuid() == 0; }

std::vector<std::string> as_pg(std::vector<std::string> argv) {
  if (!as_root()) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Runs a short-lived program to its end; its output is appended to `log`.
Status run_program(const std::vector<std::string>& argv, const fs::path& log,
                   std::chrono::milliseconds timeout = 60s) {
  process::SpawnOptions o;
  o.argv = argv;
  o.log_path = log.string();
  auto child = process::Subprocess::spawn(o);
  if (!child.is_ok()) return child.status().with_context("start " + argv.front());
  auto rc = (*child)->wait_for(timeout);
  if (!rc) {
    (*child)->terminate(2s);
    return Status::unavailable(argv.front() + " did not finish within " +
                               std::to_string(timeout.count() / 1000) + " s");
  }
  if (*rc != 0) {
    std::string name = argv.front() == "runuser" ? argv.at(4) : argv.front();
    return Status::internal(fs::path(name).filename().string() + " failed (exit " + std::to_string(*rc) +
                            "):\n" + tail_file(log, 15));
  }
  return Status::ok();
}

bool pid_alive(long pid) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t p = line.rfind(") ");
  if (p == std::string::npos || p + 2 >= line.size()) return false;
  char state = line[p + 2];
  return state != 'Z' && state != 'X';  // a zombie is as good as dead
}

// The pid and port of a postmaster running on `data` (postmaster.pid lines 1 and 4).
std::optional<int> running_postmaster_port(const fs::path& data) {
  std::ifstream in(data / "postmaster.pid");
  std::string pid, dir, start, port;
  if (!std::getline(in, pid) || !std::getline(in, dir) || !std::getline(in, start) || !std::getline(in, port))
    return std::nullopt;
  if (!pid_alive(std::atol(pid.c_str()))) return std::nullopt;
  int p = std::atoi(port.c_str());
  if (p <= 0) return std::nullopt;
  return p;
}

Status chown_to_postgres(const std::vector<fs::path>& paths) {
  if (!as_root()) return Status::ok();
  struct passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr)
    return Status::not_found("running as root but there is no 'postgres' user (apt-get install postgresql)");
  for (const auto& p : paths)
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return Status::io_error("chown postgres " + p.string() + ": " + std::strerror(errno));
  return Status::ok();
}

}  // namespace

// ---- PostgreSQL -------------------------------------------------------------

Result<std::unique_ptr<LocalPostgres>> LocalPostgres::start(const fs::path& dir_in, int preferred_port) {
  std::error_code ec;
  fs::create_directories(dir_in / "logs", ec);
  if (ec) return Status::io_error("create " + (dir_in / "logs").string() + ": " + ec.message());
  const fs::path dir = fs::canonical(dir_in);
  const fs::path data = dir / "pg", sock = dir / "pg-sock", logs = dir / "logs";
  const fs::path server_log = logs / "postgres.log", tool_log = logs / "pg_tools.log";
  if (!fs::exists(pg_bin("initdb")))
    return Status::not_found("PostgreSQL 15 not found in " + pg_bin("") + " (apt-get install postgresql)");
  if (auto port = running_postmaster_port(data)) {
    common::log_info("scn up: PostgreSQL already runs on ", data.string(), " (port ", *port,
                     "), adopting it");
    return std::unique_ptr<LocalPostgres>(new LocalPostgres(dir, *port));
  }
  if ((sock / ".s.PGSQL.65535").string().size() >= 108)
    return Status::invalid_argument(sock.string() +
                                    " is too long a path for a unix socket; use a shorter --var");
  fs::create_directories(data, ec);
  fs::create_directories(sock, ec);
  if (ec) return Status::io_error("create " + data.string() + ": " + ec.message());
  // Left by a server that died: its pid is gone, so they are stale.
  fs::remove(data / "postmaster.pid", ec);
  for (const auto& e : fs::directory_iterator(sock, ec))
    if (e.path().filename().string().rfind(".s.PGSQL.", 0) == 0) fs::remove(e.path(), ec);
  { std::ofstream touch(server_log, std::ios::app); }
  SCN_RETURN_IF_ERROR(chown_to_postgres({data, sock, server_log}));
  ::chmod(data.c_str(), 0700);
  if (as_root() && !run_program(as_pg({"test", "-w", data.string()}), tool_log).is_ok()) {
    ::chmod(dir.c_str(), 0755);  // traversal, so that `postgres` reaches its folders
    if (!run_program(as_pg({"test", "-w", data.string()}), tool_log).is_ok())
      return Status::permission_denied("user postgres cannot reach " + data.string() +
                                       " (a parent folder is closed to it); use a --var under /tmp");
  }
  if (!fs::exists(data / "PG_VERSION")) {
    common::log_info("scn up: initdb ", data.string());
    SCN_RETURN_IF_ERROR(run_program(as_pg({pg_bin("initdb"), "-D", data.string(), "-U", "postgres", "-A",
                                           "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}),
                                    logs / "initdb.log", 120s));
  }
  int port = 0;
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port = pick_port(attempt == 0 ? preferred_port : 0);
    if (port == 0) return Status::unavailable("no free loopback port for PostgreSQL");
    const std::string server_opts = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port) + " -k " +
                                    sock.string() + " -c synchronous_commit=off -c max_connections=200";
    last = run_program(as_pg({pg_bin("pg_ctl"), "-D", data.string(), "-l", server_log.string(), "-w", "-t",
                              "30", "-s", "start", "-o", server_opts}),
                       tool_log, 60s);
    if (last.is_ok()) break;
  }
  if (!last.is_ok())
    return Status(last.code(),
                  "PostgreSQL did not start: " + last.message() + "\n" + tail_file(server_log, 15));
  std::unique_ptr<LocalPostgres> pg(new LocalPostgres(dir, port));
  // createdb fails when `scn` exists: that is fine, anything else is not.
  const fs::path createdb_log = logs / "createdb.log";
  std::error_code ignore;
  fs::remove(createdb_log, ignore);
  Status created = run_program(
      as_pg({pg_bin("createdb"), "-h", sock.string(), "-p", std::to_string(port), "-U", "postgres", "scn"}),
      createdb_log);
  if (!created.is_ok() && tail_file(createdb_log, 5).find("already exists") == std::string::npos)
    return created.with_context("createdb scn");
  return pg;
}

LocalPostgres::~LocalPostgres() {
  if (running_) {
    Status st = stop();
    if (!st.is_ok()) common::log_warn("scn up: ", st.to_string());
  }
}

std::string LocalPostgres::url() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/scn";
}

Status LocalPostgres::stop() {
  if (!running_) return Status::ok();
  running_ = false;
  if (!running_postmaster_port(dir_ / "pg")) return Status::ok();
  return run_program(as_pg({pg_bin("pg_ctl"), "-D", (dir_ / "pg").string(), "-m", "fast", "-w", "-t", "30",
                            "-s", "stop"}),
                     dir_ / "logs" / "pg_tools.log", 60s)
      .with_context("stop PostgreSQL");
}

// ---- Redis --------------------------------------------------------------------

LocalRedis::LocalRedis(std::unique_ptr<process::Subprocess> child, int port)
    : child_(std::move(child)), port_(port) {}

Result<std::unique_ptr<LocalRedis>> LocalRedis::start(const fs::path& dir, int preferred_port) {
  std::error_code ec;
  fs::create_directories(dir / "redis", ec);
  fs::create_directories(dir / "logs", ec);
  if (ec) return Status::io_error("create " + (dir / "redis").string() + ": " + ec.message());
  const fs::path log = dir / "logs" / "redis.log";
  const std::string server = env_or("SCN_REDIS_SERVER", "redis-server");
  for (int attempt = 0; attempt < 3; ++attempt) {
    int port = pick_port(attempt == 0 ? preferred_port : 0);
    if (port == 0) return Status::unavailable("no free loopback port for Redis");
    process::SpawnOptions o;
    o.argv = {server,
              "--bind",
              "127.0.0.1",
              "--port",
              std::to_string(port),
              "--save",
              "",
              "--appendonly",
              "no",
              "--dir",
              fs::absolute(dir / "redis").string(),
              "--daemonize",
              "no"};
    o.log_path = log.string();
    auto child = process::Subprocess::spawn(o);
    if (!child.is_ok())
      return child.status().with_context("start redis-server (apt-get install redis-server)");
    auto& c = *child;
    if (wait_listening(port, 10s, [&] { return c->running(); }))
      return std::unique_ptr<LocalRedis>(new LocalRedis(std::move(c), port));
    c->terminate(2s);  // the port was taken in between, or it cannot start
  }
  return Status::unavailable("Redis did not start:\n" + tail_file(log, 15));
}

LocalRedis::~LocalRedis() { stop(); }

std::string LocalRedis::url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

bool LocalRedis::running() const { return child_ && child_->running(); }

Status LocalRedis::stop() {
  if (!child_) return Status::ok();
  child_->terminate(5s);
  child_.reset();
  return Status::ok();
}

// ---- both ---------------------------------------------------------------------

Result<std::unique_ptr<LocalServices>> LocalServices::start(const fs::path& dir) {
  const fs::path record = dir / "up.json";
  int pg_port = 0, redis_port = 0;
  if (auto j = read_json_file(record); j.is_ok()) {
    if (auto* p = j->if_contains("pg_port"); p && p->is_int64()) pg_port = static_cast<int>(p->as_int64());
    if (auto* p = j->if_contains("redis_port"); p && p->is_int64())
      redis_port = static_cast<int>(p->as_int64());
  }
  SCN_ASSIGN_OR_RETURN(auto pg, LocalPostgres::start(dir, pg_port));
  SCN_ASSIGN_OR_RETURN(auto redis, LocalRedis::start(dir, redis_port));
  boost::json::object o;
  o["pg_port"] = pg->port();
  o["redis_port"] = redis->port();
  SCN_RETURN_IF_ERROR(write_json_file(record, o, 0644));
  return std::unique_ptr<LocalServices>(new LocalServices(std::move(pg), std::move(redis)));
}

LocalServices::~LocalServices() { stop(); }

Status LocalServices::stop() {
  Status st;
  if (redis_) st = redis_->stop();
  if (pg_) {
    Status p = pg_->stop();
    if (st.is_ok()) st = p;
  }
  return st;
}

}  // namespace scn::broker
