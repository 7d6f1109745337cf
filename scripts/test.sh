#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, builds, and
# runs the whole CTest suite (unit tests, golden-output tests, tests of the
# real `scn` processes over HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${SCN_BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1200 -j "${SCN_TEST_JOBS:-2}" "$@"
