#!/usr/bin/env bash
# Two stacks loaded at the same time, so a busy machine slows both alike: a fairer comparison of two
# builds (or two modes) than runs one after the other. Each side is a checkout with its own build and
# its own .stack/ state, and the scripts/stack.sh arguments to start it with (2 workers, hello app).
#
#   gateway/bench/side-by-side.sh SECONDS CONNECTIONS "ROOT_A [stack args]" "ROOT_B [stack args]"
#   e.g. gateway/bench/side-by-side.sh 8 32 "$PWD --protocol fastcgi" "/tmp/b --protocol http"
#
# A second checkout of the same commit: git archive HEAD | tar -x -C /tmp/b, ln -s "$PWD/node_modules"
# /tmp/b/, (cd /tmp/b && npx tsc -b gateway app). Per side: requests/s and p99 from wrk, and the CPU per
# request of the gateway workers (of which in the kernel) and of nginx, read from /proc.
# Load goes to 127.0.0.1 only; the run holds /tmp/bench.lock unless its caller already does.
set -euo pipefail
[ $# -eq 4 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
secs=$1; conns=$2; shift 2
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=../../scripts/lib/bench-lock.sh
. "$(dirname "$0")/../../scripts/lib/bench-lock.sh"
hold_bench_lock
export NGINX_ACCESS_LOG=off GATEWAY_ACCESS_LOG=false GATEWAY_LOG_LEVEL=warn
tick=$(getconf CLK_TCK)
# Clock ticks of the given pids: field 14 (utime) + 15 (stime), or one of them.
ticks() {
  local fields=$1 total=0 pid
  shift
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk -v f="$fields" '{ sub(/.*\) /, ""); print f == "sys" ? $13 : $12 + $13 }' "/proc/$pid/stat")))
  done
  echo "$total"
}
roots=()
declare -A url gw ng args out
cleanup() { for r in "${roots[@]}"; do "$r/scripts/stack.sh" stop >/dev/null 2>&1 || true; rm -f "${out[$r]:-}"; done; }
trap cleanup EXIT INT TERM
for spec in "$@"; do
  r=${spec%% *}
  a=""; [ "$spec" != "$r" ] && a=${spec#* }
  roots+=("$r"); args[$r]=$a; out[$r]=$(mktemp)
  # shellcheck disable=SC2086
  started=$("$r/scripts/stack.sh" start 9>&- --workers 2 --app "$r/gateway/dist/examples/hello/index.js" $a 2>/dev/null)
  url[$r]=$(echo "$started" | sed -n 's/^GATEHOUSE_URL=//p')
  gw[$r]=$(pgrep -P "$(cat "$r/.stack/gateway.pid")" | tr '\n' ' ')
  ng[$r]=$(pgrep -P "$(cat "$r/.stack/nginx/nginx.pid")" | tr '\n' ' ')
done
for r in "${roots[@]}"; do wrk -t1 -c"$conns" -d2s "${url[$r]}/hello" >/dev/null 2>&1 & done
wait
declare -A g0 s0 n0
# shellcheck disable=SC2086
for r in "${roots[@]}"; do g0[$r]=$(ticks all ${gw[$r]}); s0[$r]=$(ticks sys ${gw[$r]}); n0[$r]=$(ticks all ${ng[$r]}); done
for r in "${roots[@]}"; do wrk -t1 -c"$conns" -d"${secs}s" --latency "${url[$r]}/hello" >"${out[$r]}" 2>&1 & done
wait
printf '| side | requests/s | p99 | gateway workers µs/req | of which kernel | nginx µs/req |\n|---|---|---|---|---|---|\n'
for r in "${roots[@]}"; do
  # shellcheck disable=SC2086
  g=$(($(ticks all ${gw[$r]}) - g0[$r])); s=$(($(ticks sys ${gw[$r]}) - s0[$r])); n=$(($(ticks all ${ng[$r]}) - n0[$r]))
  f=${out[$r]}
  awk -v side="$r ${args[$r]}" -v g="$g" -v s="$s" -v n="$n" -v t="$tick" -v errors="$(grep -E 'Non-2xx|Socket errors' "$f" || true)" '
    /requests in/ { q = $1 } /Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = $2 }
    END { us = t * q / 1e6; printf "| %s | %.0f | %s | %.1f | %.1f | %.1f |%s\n", side, rps, p99, g / us, s / us, n / us, errors ? " **" errors "**" : "" }' "$f"
done
echo
echo "$(nproc) cores, $(node --version), $(nginx -v 2>&1 | sed 's/.*\///'), wrk -t1 -c$conns -d${secs}s per side, 2 gateway workers per side, $(date -u +%F)"
