// `scn catalog`: import a catalog file into PostgreSQL and list the catalog.
//
//   scn catalog import FILE [--pg-url URL] [--shared-dir DIR] [--no-verify]
//   scn catalog list [--pg-url URL] [--json] [--context N]
//
// Contract:
//  - argv[0] is "catalog" (the arguments after `scn`); the return value is
//    the exit code: 0 done, 1 failed (the reason on stderr, prefixed
//    "scn catalog:"), 2 usage error (with help).
//  - --pg-url defaults to SCN_PG_URL, --shared-dir to SCN_SHARED_DIR, else
//    "../shared" (the project root's sibling, as the README lays it out).
//  - import: parses and validates FILE (catalog_file.h), resolves relative
//    file:// URIs against the shared folder and checks those files' size and
//    sha256 (unless --no-verify), applies pending schema migrations, then
//    imports everything in one transaction (catalog_store.h) and prints a
//    summary line. Nothing is written when any step fails.
//  - list: prints one line per model file (name, quantization, parameters,
//    size, whether weights are present, KV bytes per token, memory needed at
//    --context tokens, default 4096, capped at the model's context), or with
//    --json the API view of every card (card_view_json) as a JSON array.
#pragma once

namespace scn::catalog {

int catalog_main(int argc, char** argv);

}  // namespace scn::catalog
