// Internal to `scn admin` (admin_cli.cpp, admin_lists.cpp): the `list`
// command and output helpers.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace scn::db {
class PgPool;
}

namespace scn::broker::admin {

// Prints rows as an aligned table (first row: the header) to stdout.
void print_table(const std::vector<std::vector<std::string>>& rows);
// Prints a JSON value and a newline to stdout.
void print_json(const boost::json::value& value);

// `list tenants|centers|nodes|pool`; returns the exit code.
int list_command(db::PgPool& pg, const std::string& what, bool json);

}  // namespace scn::broker::admin
