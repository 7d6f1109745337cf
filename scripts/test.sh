#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, builds, and
# runs the whole CTest suite (unit tests, golden-output tests, tests of the
# real `scn` processes over HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${SCN_BUILD_DIR:-build}

# The tests talk to real PostgreSQL and Redis servers: throwaway ones in a
# temporary folder (free loopback ports), stopped and removed whatever happens.
SERVICES=$PWD/scripts/services.sh
SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/scn-services.XXXXXX")
stop_services() {
  "$SERVICES" stop "$SERVICES_DIR" || true
  rm -rf "$SERVICES_DIR"
}
trap stop_services EXIT
SERVICES_ENV=$("$SERVICES" start "$SERVICES_DIR")
eval "$SERVICES_ENV"
echo "test: PostgreSQL at $SCN_PG_URL, Redis at $SCN_REDIS_URL"

REPO_ROOT=$PWD
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1200 -j "${SCN_TEST_JOBS:-2}" "$@"
cd "$REPO_ROOT"

# The libFuzzer targets (tests/fuzz, clang + ASan/UBSan): each runs
# SCN_FUZZ_SECONDS (default 30) from its seed corpus; a crash fails the test
# command. SCN_FUZZ_SECONDS=0 skips them. Longer runs: scripts/fuzz.sh --seconds 600.
if [[ ${SCN_FUZZ_SECONDS:-30} != 0 ]]; then
  SCN_FUZZ_SECONDS=${SCN_FUZZ_SECONDS:-30} scripts/fuzz.sh
fi
