#!/usr/bin/env bash
# Configures and builds scn into ./build (Release-with-debug-info, ccache, Ninja).
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SCN_BUILD_DIR:-build}
JOBS=${SCN_JOBS:-$(nproc)}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
elif (($#)); then
  cmake -S . -B "$BUILD_DIR" "$@"
fi
cmake --build "$BUILD_DIR" -j "$JOBS"

# The web console (web/, when present): `npm ci` when node_modules is missing or
# older than package-lock.json, `npm run build` (-> web/dist, served by
# `scn broker`) when a file of web/ is newer than the last build.
if [[ -f web/package.json ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "build: npm not found; the web console is not built (run scripts/install-deps.sh)" >&2
    [[ "${CI:-}" == "true" ]] && exit 1
  else
    if [[ ! -d web/node_modules ]] || [[ ! -f web/node_modules/.package-lock.json ]] ||
       [[ web/package-lock.json -nt web/node_modules/.package-lock.json ]] ||
       [[ web/package.json -nt web/node_modules/.package-lock.json ]]; then
      echo "build: installing the web console's packages (npm ci)"
      (cd web && npm ci --no-audit --no-fund --loglevel=error)
    fi
    if [[ ! -f web/dist/index.html ]] ||
       [[ -n $(find web -path web/node_modules -prune -o -path web/dist -prune -o \
               -path web/tests -prune -o -type f -newer web/dist/index.html -print -quit) ]]; then
      echo "build: building the web console (npm run build -> web/dist)"
      (cd web && npm run build --silent)
    fi
  fi
fi
