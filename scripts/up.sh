#!/usr/bin/env bash
# The newcomer's first command: installs what is missing, builds, and runs
# `scn up` — the whole platform on this machine: PostgreSQL and Redis under
# ./var (or SCN_PG_URL / SCN_REDIS_URL when set), the scheduler, the broker on
# https://127.0.0.1:${SCN_PORT:-8000} (TLS with a private CA in ./var/pki;
# --no-tls for plain HTTP), agents of three demo centers, the demo catalog and
# accounts, and a stories260K service of the demo tenant. It prints the URLs,
# the credentials and a curl command that works as printed (with --cacert).
# Ctrl-C stops everything; running it again reuses ./var.
# Extra arguments go to `scn up` (see `build/scn up --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${SCN_BUILD_DIR:-build}
SHARED_DIR=${SCN_SHARED_DIR:-$(cd .. && pwd)/shared}
exec "$BUILD_DIR/scn" up --shared-dir "$SHARED_DIR" --var "${SCN_VAR:-var}" --port "${SCN_PORT:-8000}" "$@"
