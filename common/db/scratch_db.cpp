#include "common/db/scratch_db.h"

#include <unistd.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cctype>
#include <cstdio>
#include <random>
#include <utility>

#include "common/db/pg.h"
#include "common/log.h"

namespace scn::db {
namespace {

bool is_uri(std::string_view url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Status run_on_server(const std::string& server_url, const std::string& sql) {
  PgOptions options;
  options.url = server_url;
  options.pool_size = 1;
  options.application_name = "scn-scratch-db";
  SCN_ASSIGN_OR_RETURN(auto pool, PgPool::connect(options));
  return pool->with_connection([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec(sql);
    return Status::ok();
  });
}

}  // namespace

Result<std::string> pg_url_with_database(const std::string& url, std::string_view dbname) {
  if (is_uri(url)) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return Status::invalid_argument("invalid PostgreSQL URL: " + parsed.error().message());
    boost::urls::url u(*parsed);
    u.set_path("/" + std::string(dbname));
    return std::string(u.buffer());
  }
  // key=value form: a later keyword overrides an earlier one.
  return url + " dbname='" + std::string(dbname) + "'";
}

Result<ScratchDatabase> ScratchDatabase::create(const std::string& server_url,
                                                std::string_view prefix) {
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "_%d_%08x", static_cast<int>(::getpid()), rd());
  std::string name = std::string(prefix) + suffix;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return Status::invalid_argument("scratch database prefix must be [A-Za-z0-9_]");
  }
  SCN_ASSIGN_OR_RETURN(std::string url, pg_url_with_database(server_url, name));
  SCN_RETURN_IF_ERROR(run_on_server(server_url, "CREATE DATABASE \"" + name + "\""));
  return ScratchDatabase(server_url, std::move(name), std::move(url));
}

ScratchDatabase::ScratchDatabase(ScratchDatabase&& other) noexcept
    : server_url_(std::exchange(other.server_url_, std::string())),
      name_(std::move(other.name_)),
      url_(std::move(other.url_)) {}

ScratchDatabase::~ScratchDatabase() {
  if (server_url_.empty()) return;
  Status st = run_on_server(server_url_, "DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
  if (!st.is_ok()) common::log_warn("cannot drop scratch database ", name_, ": ", st.to_string());
}

}  // namespace scn::db
