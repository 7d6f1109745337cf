// ScratchDatabase: a fresh, empty database on a PostgreSQL server, dropped
// again on destruction - one per test, so that tests running at the same time
// against the same server (ctest -j) never see each other's rows.
//
// Contract:
//  - create(server_url) connects to the database named in server_url (e.g.
//    SCN_PG_URL's `scn`), creates "<prefix>_<pid>_<random>" (needs the
//    CREATEDB privilege) and returns it; url() is server_url with that
//    database instead (same form: URI or key=value).
//  - The destructor drops the database WITH (FORCE), closing connections
//    still open to it; a failure there is logged, not thrown.
//  - Errors are Status values (kInvalidArgument for a bad URL, kUnavailable
//    when the server is unreachable, ...), as in common/db/pg.h.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace scn::db {

class ScratchDatabase {
 public:
  static Result<ScratchDatabase> create(const std::string& server_url,
                                        std::string_view prefix = "scn_test");
  ScratchDatabase(ScratchDatabase&& other) noexcept;
  ScratchDatabase& operator=(ScratchDatabase&&) = delete;
  ScratchDatabase(const ScratchDatabase&) = delete;
  ~ScratchDatabase();

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }

 private:
  ScratchDatabase(std::string server_url, std::string name, std::string url)
      : server_url_(std::move(server_url)), name_(std::move(name)), url_(std::move(url)) {}

  std::string server_url_;  // empty once moved from
  std::string name_;
  std::string url_;
};

// `url` (a PostgreSQL URI or key=value string) pointing at database `dbname`.
Result<std::string> pg_url_with_database(const std::string& url, std::string_view dbname);

}  // namespace scn::db
