// Applying the schema migrations (sql/NNNN_name.sql, common/db/migrations.h).
//
// Contract:
//  - Applied versions are recorded in the table schema_migrations (version,
//    name, sha256 of the text, applied_at), created when missing.
//  - Each pending migration runs in its own transaction together with its
//    schema_migrations row, under a transaction-level advisory lock, so a
//    migration is applied whole or not at all, and processes migrating at
//    the same time apply each migration exactly once (the others wait and
//    then find it applied).
//  - Idempotent: with everything applied, nothing is applied.
//  - Refuses (kConflict, nothing applied) when the database has a version
//    this binary does not know (a newer scn migrated it) or when the text of
//    an applied migration has changed since (sha256 differs).
//  - A failing migration stops the run with its error (the Status of the SQL
//    error, prefixed with the migration's file name); the versions before it
//    stay applied.
#pragma once

#include <span>
#include <vector>

#include "common/db/migrations.h"
#include "common/status.h"

namespace scn::db {

class PgPool;

struct MigrateOutcome {
  int from_version = 0;       // the schema version found (0: empty database)
  int to_version = 0;         // the schema version now
  std::vector<int> applied;   // versions applied by this call, ascending
};

// Applies the pending ones of `migrations` (ascending versions > 0).
Result<MigrateOutcome> apply_migrations(PgPool& pool, std::span<const Migration> migrations);

// apply_migrations(pool, embedded_migrations()), logging what it applied.
Status migrate(PgPool& pool);

// The highest applied version; 0 when none (or no schema_migrations table).
Result<int> schema_version(PgPool& pool);

}  // namespace scn::db
