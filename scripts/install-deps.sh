#!/usr/bin/env bash
# Installs every system package scn needs on Debian 12. Idempotent: when all
# packages are present it only checks and returns within a second or two.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-program-options1.81-dev
  libssl-dev libpcre2-dev doctest-dev
  libpqxx-dev libhiredis-dev postgresql redis-server
  libgoogle-perftools-dev  # tcmalloc_minimal, the scn binary's allocator (CMake option SCN_TCMALLOC)
  slurm-wlm slurmctld slurmd munge  # `scn agent --slurm` tests (scripts/slurm-local.sh)
  chromium fonts-wqy-microhei  # the web console's browser tests (web/tests/; a CJK font for screenshots)
  clang lld libclang-rt-14-dev  # the libFuzzer targets with ASan/UBSan (scripts/fuzz.sh, tests/fuzz/)
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm build the web console (web/). A node and npm already on the
# PATH (e.g. from NodeSource, whose nodejs package contains npm and conflicts
# with Debian's npm) are kept; otherwise Debian's packages are installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all system packages present"
fi
