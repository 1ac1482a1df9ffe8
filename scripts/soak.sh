#!/usr/bin/env bash
# Runs test files N times in a row on a machine kept busy by CPU-bound load, to catch tests that
# depend on timing: a test that waits on an event passes however slow the machine is.
#
#   scripts/soak.sh [-n RUNS] [-l LOADERS] [-t SECONDS] FILE...
#       FILE: built test files (gateway/dist/test/pm/pool.test.js …; run `npm run build` first)
#       -n RUNS      how many times in a row (default 3); the first failing run stops the soak
#       -l LOADERS   CPU-bound busy loops started for the soak (default: the number of cores)
#       -t SECONDS   the longest the soak may take (default 3600): the load generators are
#                    started under `timeout` with it, so they end even if this script is killed
#
# The load generators are this script's own children, stopped by their PIDs when it exits. Test
# files that need PostgreSQL get DATABASE_URL if set, else a throwaway cluster (scripts/pg.sh).
# Each run's output goes to $SOAK_DIR (default a new directory under /tmp), one file a run, and the
# logs of the gateways and nginx the gateway's tests start to run-N-logs/ (GATEWAY_TEST_LOG_DIR),
# kept for a failing run.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3 loaders=$(nproc) limit=3600
while getopts 'n:l:t:' opt; do
  case "$opt" in
    n) runs=$OPTARG ;;
    l) loaders=$OPTARG ;;
    t) limit=$OPTARG ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
for f in "$@"; do [ -f "$f" ] || { echo "soak: no such file: $f (built?)" >&2; exit 2; }; done

out=${SOAK_DIR:-$(mktemp -d /tmp/soak.XXXXXX)}
mkdir -p "$out"
say() { printf '[soak] %s\n' "$*" >&2; }

load_pids=()
pg_dir=""
cleanup() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg_dir" ]; then scripts/pg.sh stop "$pg_dir/pg" >/dev/null 2>&1 || true; rm -rf "$pg_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
  pg_dir=$(mktemp -d /tmp/soak-pg.XXXXXX)
  chmod 755 "$pg_dir"
  eval "$(PG_FAST=1 scripts/pg.sh start "$pg_dir/pg")"
  export DATABASE_URL
fi

for _ in $(seq 1 "$loaders"); do
  timeout "$limit" sh -c 'while :; do :; done' &
  load_pids+=("$!")
done
say "$loaders CPU-bound load generators (pids ${load_pids[*]}), $runs runs of $# files, logs in $out"

started=$(date +%s)
for run in $(seq 1 "$runs"); do
  t0=$(date +%s)
  mkdir -p "$out/run-$run-logs"
  if GATEWAY_TEST_LOG_DIR="$out/run-$run-logs" timeout --kill-after=30 "$limit" node --test --test-concurrency=1 --test-timeout=1200000 "$@" >"$out/run-$run.log" 2>&1; then
    status=pass
    rm -rf "$out/run-$run-logs"
  else
    status=FAIL
  fi
  summary=$(grep -E '^# (tests|pass|fail) ' "$out/run-$run.log" | tr '\n' ' ')
  say "run $run/$runs: $status in $(($(date +%s) - t0))s, load $(cut -d' ' -f1-3 /proc/loadavg): $summary"
  if [ "$status" = FAIL ]; then
    grep -E '^not ok|^# Subtest|failureType|error:' "$out/run-$run.log" | head -20 >&2 || true
    say "failed at run $run of $runs: $out/run-$run.log"
    exit 1
  fi
done
say "all $runs runs passed in $(($(date +%s) - started))s"
