// `scn migrate`: applies the schema migrations embedded in the binary to a
// PostgreSQL database (the same step every server process runs at start-up).
//
// Contract: `scn migrate --pg-url URL` (or SCN_PG_URL) prints the version
// found, the versions applied and the version reached, and returns 0; a
// database it cannot reach, a failing migration, or a schema newer than the
// binary (or an applied migration whose text changed) prints the reason and
// returns 1; usage errors return 2.
#pragma once

namespace scn::db {

int migrate_main(int argc, char** argv);

}  // namespace scn::db
