#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 (and a unix socket in DIR/socket).
#
#   scripts/pg.sh start DIR   initdb if needed, start, print DATABASE_URL=... on stdout (started
#                             again after a stop, it listens on the same port)
#   scripts/pg.sh stop DIR    stop it (fast shutdown)
#   scripts/pg.sh url DIR ROLE   print DATABASE_URL=... for another role of the running cluster
#                                (the stack's app role: see `manage app-role`)
#
# As root the server runs as the `postgres` user (initdb refuses root). PG_FAST=1 turns off
# fsync and synchronous commit (and initdb's sync to disk): for tests, where the data is thrown
# away anyway.
set -euo pipefail

command=${1:-}
dir=${2:-}
[ -n "$command" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|url DIR" >&2; exit 2; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# shellcheck source=lib/free-port.sh
. "$(dirname "$0")/lib/free-port.sh"

case "$command" in
  start)
    mkdir -p "$dir/socket"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir" "$dir/socket"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      initdb_opts=""
      [ "${PG_FAST:-0}" = 1 ] && initdb_opts="--no-sync"
      # shellcheck disable=SC2086 # empty or one word
      as_owner "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions $initdb_opts >"$dir/initdb.log" 2>&1 \
        || { echo "pg.sh: initdb failed:" >&2; tail -n 20 "$dir/initdb.log" >&2; exit 1; }
    fi
    if as_owner "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      port=$(cat "$dir/port")
    else
      # A cluster started again keeps its address, as a restarted server does (clients reconnect
      # to where it was); a new one gets a free port.
      if [ -f "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(free_port); fi
      echo "$port" >"$dir/port"
      opts="-c listen_addresses=127.0.0.1 -p $port -k $dir/socket -c max_connections=200"
      [ "${PG_FAST:-0}" = 1 ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
      as_owner "$pgbin/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/postgresql.log" -w -t 60 start >/dev/null \
        || { echo "pg.sh: PostgreSQL did not start:" >&2; tail -n 20 "$dir/postgresql.log" >&2; exit 1; }
    fi
    "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30 || { echo "pg.sh: PostgreSQL not ready" >&2; exit 1; }
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  url)
    role=${3:-}
    [[ "$role" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "usage: $0 url DIR ROLE" >&2; exit 2; }
    [ -f "$dir/port" ] || { echo "pg.sh: no cluster in $dir" >&2; exit 1; }
    echo "DATABASE_URL=postgres://$role@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  stop)
    [ -f "$dir/data/PG_VERSION" ] || exit 0
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
    ;;
esac
