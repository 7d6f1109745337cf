// The schema migrations built into the binary.
//
// Contract:
//  - sql/NNNN_name.sql in the source tree are embedded at build time
//    (cmake/embed_sql.cmake): version NNNN, name "name", the file's text.
//  - embedded_migrations() lists them by ascending version, 1, 2, 3, ...
//    without gaps (the build fails otherwise). The texts live as long as the
//    program.
//  - common/db/migrate.h applies them; a Migration may also be built by hand
//    (tests) with any static strings.
#pragma once

#include <span>
#include <string_view>

namespace scn::db {

struct Migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;
};

std::span<const Migration> embedded_migrations();

}  // namespace scn::db
