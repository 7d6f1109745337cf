#!/usr/bin/env bash
# Configures and builds scn into ./build (Release-with-debug-info, ccache, Ninja).
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SCN_BUILD_DIR:-build}
JOBS=${SCN_JOBS:-$(nproc)}
# The CUDA backend is built whenever nvcc is there (/usr/local/cuda/bin/nvcc
# or on PATH); SCN_CUDA=0 turns it off, SCN_CUDA=1 insists on it.
CUDA_WANT=OFF
if [[ "${SCN_CUDA:-}" == "1" ]] ||
   { [[ "${SCN_CUDA:-}" != "0" ]] &&
     { [[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null 2>&1; }; }; then
  CUDA_WANT=ON
fi
CUDA_HAVE=$(sed -n 's/^SCN_CUDA:BOOL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCN_CUDA=$CUDA_WANT "$@"
elif (($#)) || [[ "$CUDA_HAVE" != "$CUDA_WANT" ]]; then
  cmake -S . -B "$BUILD_DIR" -DSCN_CUDA=$CUDA_WANT "$@"
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

# The OpenAI SDK compatibility test's packages (tests/compat: the `openai` npm
# package): `npm ci` when node_modules is missing or older than the lock file.
if [[ -f tests/compat/package.json ]] && command -v npm >/dev/null 2>&1; then
  if [[ ! -f tests/compat/node_modules/.package-lock.json ]] ||
     [[ tests/compat/package-lock.json -nt tests/compat/node_modules/.package-lock.json ]]; then
    echo "build: installing the OpenAI SDK for tests/compat (npm ci)"
    (cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
