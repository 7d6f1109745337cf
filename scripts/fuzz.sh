#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with ASan + UBSan, in
# build-fuzz/) and runs each for N seconds from a copy of its committed seed
# corpus (tests/fuzz/corpus/<name>/; the committed corpus never grows), then
# prints a table: target, executions, exec/s, crashes. Exit status 1 when any
# target crashed (its reproducer is kept and named), 2 on usage/build errors.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#     --seconds N  run time per target (default: $SCN_FUZZ_SECONDS, else 30)
#     --jobs J     libFuzzer processes per target (-fork=J; default 1)
#   Longer runs (the bench command): scripts/fuzz.sh --seconds 600
#   Env: SCN_FUZZ_BUILD_DIR (default build-fuzz), SCN_BUILD_JOBS (default 2),
#        SCN_FUZZ_KEEP (a folder that keeps the crash reproducers).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_TARGET=${SCN_FUZZ_SECONDS:-30}
JOBS=1
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_TARGET=${2:?--seconds needs a value}; shift 2 ;;
    --seconds=*) SECONDS_PER_TARGET=${1#*=}; shift ;;
    --jobs) JOBS=${2:?--jobs needs a value}; shift 2 ;;
    --jobs=*) JOBS=${1#*=}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ $SECONDS_PER_TARGET =~ ^[0-9]+$ && $SECONDS_PER_TARGET -ge 1 ]] || { echo "fuzz: --seconds must be a positive integer" >&2; exit 2; }
[[ $JOBS =~ ^[0-9]+$ && $JOBS -ge 1 ]] || { echo "fuzz: --jobs must be a positive integer" >&2; exit 2; }

ALL_TARGETS=(gguf tokenizer chat_template openai_request gateway_request rest_body agent_protocol)
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

CLANG=$(command -v clang || true)
CLANGXX=$(command -v clang++ || true)
if [[ -z $CLANG || -z $CLANGXX ]]; then
  echo "fuzz: clang not found (scripts/install-deps.sh installs clang, lld and libclang-rt-14-dev)" >&2
  exit 2
fi

BUILD=${SCN_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f $BUILD/build.ninja ]]; then
  CC=$CLANG CXX=$CLANGXX cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSCN_FUZZ=ON -DSCN_TESTS=OFF >/dev/null
fi
build_targets=()
for t in "${TARGETS[@]}"; do build_targets+=("${t}_fuzz"); done
nice cmake --build "$BUILD" -j "${SCN_BUILD_JOBS:-2}" --target "${build_targets[@]}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scn-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export SCN_SHARED_DIR=${SCN_SHARED_DIR:-$ROOT/../shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

rows=()
failed=0
for t in "${TARGETS[@]}"; do
  bin=$BUILD/tests/fuzz/${t}_fuzz
  seeds=$ROOT/tests/fuzz/corpus/$t
  [[ -x $bin ]] || { echo "fuzz: $bin was not built" >&2; exit 2; }
  [[ -d $seeds ]] || { echo "fuzz: no seed corpus $seeds" >&2; exit 2; }
  corpus=$WORK/$t/corpus
  artifacts=$WORK/$t/artifacts
  mkdir -p "$corpus" "$artifacts"
  cp -r "$seeds"/. "$corpus"/
  log=$WORK/$t/log
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=4096
        -artifact_prefix="$artifacts/" -print_final_stats=1)
  ((JOBS > 1)) && args+=(-fork="$JOBS")
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s ..."
  rc=0
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$( (grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true) | awk '{s+=$2} END {print s+0}')
  if [[ $execs == 0 ]]; then  # fork mode: the last "#N" status line
    execs=$( (grep -oE '^#[0-9]+' "$log" || true) | tr -d '#' | sort -n | tail -1)
    execs=${execs:-0}
  fi
  rate=$(awk -v e="$execs" -v s="$SECONDS_PER_TARGET" 'BEGIN {printf "%d", e / s}')
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if ((rc != 0 && crashes == 0)); then crashes=1; fi
  if ((crashes > 0)); then
    failed=1
    echo "fuzz: $t FAILED (exit $rc); the end of its log:" >&2
    tail -40 "$log" >&2
    if [[ -n ${SCN_FUZZ_KEEP:-} ]]; then
      mkdir -p "$SCN_FUZZ_KEEP/$t" && cp "$artifacts"/* "$SCN_FUZZ_KEEP/$t/" 2>/dev/null || true
      echo "fuzz: reproducers kept in $SCN_FUZZ_KEEP/$t" >&2
    fi
  fi
  rows+=("$(printf '%-16s %12s %10s %8s' "$t" "$execs" "$rate" "$crashes")")
done

echo
printf '%-16s %12s %10s %8s\n' target executions exec/s crashes
for r in "${rows[@]}"; do echo "$r"; done
exit $failed
