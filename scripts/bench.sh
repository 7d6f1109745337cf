#!/usr/bin/env bash
# Runs the benchmarks the issues ask for, with their exact commands, and
# prints every figure. Not a test: figures on a shared machine are noisy, so
# compare ratios within one run.
#
#   scripts/bench.sh [all|infer|serve|broker|sim|membw]...   (default: all)
#
# Uses build/scn (scripts/build.sh first; SCN_BIN overrides). Synthetic models
# (`scn gguf synth --like ...`) are written once to var/bench/. The broker
# bench gets throwaway PostgreSQL and Redis servers (scripts/services.sh)
# unless SCN_PG_URL and SCN_REDIS_URL are set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SCN=${SCN_BIN:-$ROOT/build/scn}
[[ -x $SCN ]] || { echo "bench.sh: $SCN not found: run scripts/build.sh first" >&2; exit 1; }
MODELS=$ROOT/var/bench
mkdir -p "$MODELS"
SHARED=${SCN_SHARED_DIR:-$ROOT/../shared}
export SCN_SHARED_DIR=$SHARED

model() {  # model LIKE TYPE -> path of a synthetic GGUF, made once
  local f=$MODELS/$1-$2.gguf
  [[ -f $f ]] || "$SCN" gguf synth --like "$1" --type "$2" "$f" >/dev/null
  echo "$f"
}

run() {  # prints the command, then runs it
  echo
  echo "\$ ${*/#$ROOT\//}"
  "$@"
}

bench_membw() { run "$SCN" bench membw --threads 2; }

bench_infer() {  # issue 2 section 7: six rows
  local like type
  for like in qwen2.5-0.5b qwen2.5-1.5b; do
    for type in q8_0 q4_0 q4_K_M; do
      run "$SCN" bench infer --model "$(model "$like" "$type")" --threads 2 --reps 2
    done
  done
}

bench_serve() {  # issue 4: 1 vs 8 clients; shared prefix vs none
  local m
  m=$(model qwen2.5-0.5b q8_0)
  run "$SCN" bench serve --model "$m" --threads 2 --clients 1 --prompt-tokens 100 --max-tokens 128
  run "$SCN" bench serve --model "$m" --threads 2 --clients 8 --prompt-tokens 100 --max-tokens 128
  run "$SCN" bench serve --model "$m" --threads 2 --clients 8 --prompt-tokens 500 --shared-prefix 400 --max-tokens 32
  run "$SCN" bench serve --model "$m" --threads 2 --clients 8 --prompt-tokens 500 --max-tokens 32
}

bench_broker() {  # issue 5
  local svc=""
  if [[ -z ${SCN_PG_URL:-} || -z ${SCN_REDIS_URL:-} ]]; then
    svc=$(mktemp -d /tmp/scn-bench-XXXXXX)
    chmod 755 "$svc"
    eval "$(scripts/services.sh start "$svc")"
    trap 'scripts/services.sh stop "$svc" >/dev/null 2>&1; rm -rf "$svc"' RETURN
  fi
  run "$SCN" bench broker --seconds 5 --latency-requests 2000
}

bench_sim() {  # issue 7
  run "$SCN" sim --centers 30 --nodes-per-center 500 --seed 1 --events 20000
  run "$SCN" sim --sweep --seed 1 --events 3000
  run "$SCN" sim --centers 30 --nodes-per-center 20 --seed 1 --events 2000 --saturate
}

(($# > 0)) || set -- all
for what in "$@"; do
  case $what in
    all) bench_membw; bench_sim; bench_broker; bench_infer; bench_serve ;;
    membw | infer | serve | broker | sim) "bench_$what" ;;
    *) echo "usage: scripts/bench.sh [all|infer|serve|broker|sim|membw]..." >&2; exit 2 ;;
  esac
done
