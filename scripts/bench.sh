#!/usr/bin/env bash
# Load-tests the stack in every mode and scenario, and writes bench/results/<date>-<commit>/
# (results.json, report.md, chart.svg). See bench/README.md.
#
#   scripts/bench.sh [--native] [--modes fastcgi,uwsgi,http,cgi] [--scenarios static,overhead,…]
#                    [--connections N] [--duration S] [--pipelining N] [--warmup S] [--reload]
#                    [--users N]   (users in the database for the users scenario; default 1000)
#   scripts/bench.sh --target URL        (identity scenarios against any Keystone-compatible URL,
#                                          with the OS_* credentials from the environment)
#   scripts/bench.sh --compare A B        (ratios between two result folders)
#
# Load goes to 127.0.0.1 only, every run is bounded, and the whole session holds
# /tmp/bench.lock so no two load runs overlap. Ctrl-C stops the stack it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/gateway/dist/src/bin/gateway.js" ] || { echo "build first: npm ci && npm run build" >&2; exit 1; }
case " $* " in
  *" --compare "* | *" --help "* | *" -h "*) exec node "$root/scripts/bench/run.mjs" "$@" ;;
esac
# The command line is checked before the lock: a usage error is said at once, not after waiting
# for another load run to end.
node "$root/scripts/bench/check-options.mjs" "$@" || exit
# shellcheck source=lib/bench-lock.sh
. "$root/scripts/lib/bench-lock.sh"
hold_bench_lock
# This shell (or its caller) holds the lock; the driver and the servers it starts do not inherit it.
# SIGTERM to this shell alone (a caller's timeout) goes on to the driver, which stops the load and
# the stack it started; Ctrl-C reaches the driver with the rest of the process group. Either way
# this shell waits for the driver's clean-up and ends with its status.
node "$root/scripts/bench/run.mjs" "$@" 9>&- &
driver=$!
trap 'kill -TERM "$driver" 2>/dev/null' TERM
trap ':' INT
status=0
wait "$driver" || status=$?
# A trapped signal interrupts `wait`: wait again for the driver to finish its clean-up.
while kill -0 "$driver" 2>/dev/null; do wait "$driver" || status=$?; done
exit "$status"
