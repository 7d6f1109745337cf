// Local PostgreSQL 15 and Redis 7 servers with their data in a folder, for
// `scn up` and the end-to-end tests (the C++ twin of scripts/services.sh).
//
// Contract:
//  - LocalPostgres::start(dir) initdb's dir/pg on first use (user postgres,
//    trust authentication, loopback only, UTF8), starts it with pg_ctl on
//    127.0.0.1:<port> (`preferred_port` when free, else a free one) with its
//    unix socket in dir/pg-sock, and creates the database `scn`. A server
//    already running on dir/pg (left by a killed run) is adopted as is.
//    As root, every PostgreSQL program runs as the `postgres` system user
//    (runuser) and the folders are chowned to it, as PostgreSQL refuses root.
//    The server's log is dir/logs/postgres.log. stop() is `pg_ctl stop -m
//    fast`; the destructor stops a server still running.
//  - LocalRedis::start(dir) runs `redis-server` as a child process (dies with
//    the thread that started it) on 127.0.0.1:<port>, without persistence,
//    working dir dir/redis, log dir/logs/redis.log. stop() terminates it.
//  - LocalServices::start(dir) starts both, reusing the ports recorded in
//    dir/up.json when still free, and records the ports used there.
//    stop() stops Redis, then PostgreSQL.
//  - Every failure is a Status that says what failed and quotes the tail of
//    the relevant log. Programs: SCN_PG_BIN (default
//    /usr/lib/postgresql/15/bin) and SCN_REDIS_SERVER (default redis-server).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/status.h"

namespace scn::process {
class Subprocess;
}

namespace scn::broker {

class LocalPostgres {
 public:
  static Result<std::unique_ptr<LocalPostgres>> start(const std::filesystem::path& dir,
                                                      int preferred_port = 0);
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  int port() const { return port_; }
  // postgresql://postgres@127.0.0.1:<port>/scn
  std::string url() const;
  Status stop();

 private:
  LocalPostgres(std::filesystem::path dir, int port) : dir_(std::move(dir)), port_(port) {}
  std::filesystem::path dir_;
  int port_ = 0;
  bool running_ = true;
};

class LocalRedis {
 public:
  static Result<std::unique_ptr<LocalRedis>> start(const std::filesystem::path& dir, int preferred_port = 0);
  ~LocalRedis();
  LocalRedis(const LocalRedis&) = delete;
  LocalRedis& operator=(const LocalRedis&) = delete;

  int port() const { return port_; }
  // redis://127.0.0.1:<port>/0
  std::string url() const;
  bool running() const;
  Status stop();

 private:
  LocalRedis(std::unique_ptr<process::Subprocess> child, int port);
  std::unique_ptr<process::Subprocess> child_;
  int port_ = 0;
};

class LocalServices {
 public:
  static Result<std::unique_ptr<LocalServices>> start(const std::filesystem::path& dir);
  ~LocalServices();

  std::string pg_url() const { return pg_->url(); }
  std::string redis_url() const { return redis_->url(); }
  Status stop();

 private:
  LocalServices(std::unique_ptr<LocalPostgres> pg, std::unique_ptr<LocalRedis> redis)
      : pg_(std::move(pg)), redis_(std::move(redis)) {}
  std::unique_ptr<LocalPostgres> pg_;
  std::unique_ptr<LocalRedis> redis_;
};

}  // namespace scn::broker
