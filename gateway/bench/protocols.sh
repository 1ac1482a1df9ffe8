#!/usr/bin/env bash
# The gateway's own cost, end to end, in one run through the same nginx with the same number of
# Node processes: the hello app over FastCGI (keep-alive, TCP and unix socket), uwsgi (TCP and
# unix socket, both worker-sharing policies), plain HTTP behind proxy_pass (keep-alive) and CGI,
# against nginx serving a static file, and uWSGI with a Python hello (TCP and unix socket) as the
# peer of uwsgi mode. For each: requests/s and latency from wrk, and the CPU each group of
# processes spent per request, read from /proc during the run.
#
#   gateway/bench/protocols.sh [DURATION_SECONDS] [CONNECTIONS]
#
# Load goes to 127.0.0.1 only; the run holds /tmp/bench.lock so no two load runs overlap.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
duration=${1:-10}
connections=${2:-64}
workers=${BENCH_WORKERS:-2}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=../../scripts/lib/bench-lock.sh
. "$(dirname "$0")/../../scripts/lib/bench-lock.sh"
hold_bench_lock

hello="$root/gateway/dist/examples/hello/index.js"
hello_cgi="node $root/gateway/dist/examples/hello/cgi.js"
tick=$(getconf CLK_TCK)
export NGINX_ACCESS_LOG=off GATEWAY_ACCESS_LOG=false GATEWAY_LOG_LEVEL=warn

trap '"$root/scripts/stack.sh" stop >/dev/null 2>&1 || true' EXIT INT TERM

# Sum of utime+stime (clock ticks) of the given pids.
cpu_of() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")))
  done
  echo "$total"
}

printf '| variant | requests/s | p50 | p99 | nginx µs/req | gateway workers µs/req | master µs/req |\n'
printf '|---|---|---|---|---|---|---|\n'

run() {
  local name=$1 path=$2; shift 2
  local out url nginx_master gw_master nginx_workers gw_workers
  out=$("$root/scripts/stack.sh" start 9>&- --workers "$workers" --app "$hello" "$@" 2>/dev/null)
  url=$(echo "$out" | sed -n 's/^GATEHOUSE_URL=//p')
  nginx_master=$(cat "$root/.stack/nginx/nginx.pid")
  if [ -n "$peer_pid" ]; then gw_master=$peer_pid; else gw_master=$(cat "$root/.stack/gateway.pid"); fi
  nginx_workers=$(pgrep -P "$nginx_master" | tr '\n' ' ')
  gw_workers=$(pgrep -P "$gw_master" | tr '\n' ' ')
  wrk -t1 -c"$connections" -d2s "$url$path" >/dev/null 2>&1 # warm-up
  local n0 g0 m0 n1 g1 m1
  # shellcheck disable=SC2086
  n0=$(cpu_of $nginx_workers); g0=$(cpu_of $gw_workers $(pgrep -P "$gw_master" | xargs -r -n1 pgrep -P 2>/dev/null)); m0=$(cpu_of "$gw_master")
  local report
  report=$(wrk -t1 -c"$connections" -d"${duration}s" --latency "$url$path")
  # shellcheck disable=SC2086
  n1=$(cpu_of $nginx_workers); g1=$(cpu_of $gw_workers $(pgrep -P "$gw_master" | xargs -r -n1 pgrep -P 2>/dev/null)); m1=$(cpu_of "$gw_master")
  local requests rps p50 p99 errors
  requests=$(echo "$report" | awk '/requests in/ { print $1 }')
  rps=$(echo "$report" | awk '/Requests\/sec/ { printf "%.0f", $2 }')
  p50=$(echo "$report" | awk '$1 == "50%" { print $2 }')
  p99=$(echo "$report" | awk '$1 == "99%" { print $2 }')
  errors=$(echo "$report" | awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }')
  us() { awk -v d="$1" -v r="$requests" -v t="$tick" 'BEGIN { if (r > 0) printf "%.1f", d / t * 1e6 / r; else print "-" }'; }
  printf '| %s | %s | %s | %s | %s | %s | %s |%s\n' "$name" "$rps" "$p50" "$p99" "$(us $((n1 - n0)))" \
    "$([ "$name" = static ] && echo - || us $((g1 - g0)))" "$([ "$name" = static ] && echo - || us $((m1 - m0)))" \
    "${errors:+ **$errors**}"
  "$root/scripts/stack.sh" stop >/dev/null 2>&1
}

# Peers, started here on 127.0.0.1 with the same number of processes as the gateway.
peer_pid=""
start_uwsgi_python() {
  uwsgi --plugin python3 --master --processes "$workers" --disable-logging --need-app \
    --wsgi-file "$root/gateway/bench/peers/hello.py" "$@" >/tmp/bench-uwsgi.log 2>&1 9>&- &
  peer_pid=$!
  sleep 1
}
stop_peer() { [ -n "$peer_pid" ] && kill -INT "$peer_pid" 2>/dev/null; wait "$peer_pid" 2>/dev/null || true; peer_pid=""; }

variants=${BENCH_VARIANTS:-static fastcgi fastcgi-unix http uwsgi uwsgi-unix uwsgi-rr uwsgi-python uwsgi-python-unix cgi}
for v in $variants; do
  case "$v" in
    static) run static /index.html --protocol http ;;
    fastcgi) run "fastcgi (TCP, keep-alive)" /hello --protocol fastcgi ;;
    fastcgi-unix) run "fastcgi (unix, keep-alive)" /hello --protocol fastcgi --unix ;;
    http) run "http (proxy_pass, keep-alive)" /hello --protocol http ;;
    uwsgi) run "uwsgi (TCP)" /hello --protocol uwsgi ;;
    uwsgi-unix) run "uwsgi (unix)" /hello --protocol uwsgi --unix ;;
    uwsgi-rr) GATEWAY_PM_SCHEDULING=round-robin run "uwsgi (TCP, round-robin)" /hello --protocol uwsgi ;;
    cgi) connections=4 run "cgi (process per request, 4 connections)" /hello --protocol cgi --cgi-command "$hello_cgi" ;;
    uwsgi-python)
      command -v uwsgi >/dev/null || { echo "| uWSGI: not installed (apt-get install uwsgi-core uwsgi-plugin-python3) |"; continue; }
      port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
      start_uwsgi_python --socket "127.0.0.1:$port"
      run "peer: uWSGI, Python hello (TCP)" /hello --protocol uwsgi --upstream "127.0.0.1:$port"
      stop_peer ;;
    uwsgi-python-unix)
      command -v uwsgi >/dev/null || { echo "| uWSGI: not installed (apt-get install uwsgi-core uwsgi-plugin-python3) |"; continue; }
      peer_dir=$(mktemp -d)
      start_uwsgi_python --socket "$peer_dir/uwsgi.sock"
      run "peer: uWSGI, Python hello (unix)" /hello --protocol uwsgi --upstream "unix:$peer_dir/uwsgi.sock"
      stop_peer
      rm -rf "$peer_dir" ;;
  esac
done
echo
echo "$(nproc) cores, $(node --version), $(nginx -v 2>&1 | sed 's/.*\///'), wrk -t1 -c$connections -d${duration}s, $workers gateway workers, $(date -u +%F)"
