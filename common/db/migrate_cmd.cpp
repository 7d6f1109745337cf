#include "common/db/migrate_cmd.h"

#include <cstdio>
#include <string>

#include "common/config.h"
#include "common/db/migrate.h"
#include "common/db/pg.h"

namespace scn::db {

int migrate_main(int argc, char** argv) {
  std::string pg_url;
  common::OptionSet opts("scn migrate", "apply the schema migrations embedded in scn to PostgreSQL");
  opts.add("pg-url", &pg_url, "PostgreSQL URL (postgresql://user@host:port/db)")
      .require("pg-url")
      .log_level_option();
  auto parsed = opts.parse(argc, argv);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "scn migrate: %s\n\n%s", parsed.status().message().c_str(),
                 opts.help().c_str());
    return 2;
  }
  if (parsed.value() == common::OptionSet::Outcome::kHelp) return 0;

  PgOptions o;
  o.url = pg_url;
  o.pool_size = 1;
  o.application_name = "scn-migrate";
  auto pool = PgPool::connect(o);
  if (!pool.is_ok()) {
    std::fprintf(stderr, "scn migrate: %s\n", pool.status().to_string().c_str());
    return 1;
  }
  auto outcome = apply_migrations(**pool, embedded_migrations());
  if (!outcome.is_ok()) {
    std::fprintf(stderr, "scn migrate: %s\n", outcome.status().to_string().c_str());
    return 1;
  }
  std::string applied;
  for (int v : outcome->applied) applied += (applied.empty() ? "" : ", ") + std::to_string(v);
  std::printf("schema version %d -> %d (applied: %s)\n", outcome->from_version,
              outcome->to_version, applied.empty() ? "none" : applied.c_str());
  return 0;
}

}  // namespace scn::db
