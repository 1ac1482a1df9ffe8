#!/bin/sh
# Keeps nginx's upstream in step with the gateway's replicas. With `docker compose up --scale
# gateway=N` the service name resolves to one address per replica, but nginx resolves an upstream
# name only when it loads its configuration. This watches the name (GATEWAY_UPSTREAM, host:port)
# every NGINX_UPSTREAM_WATCH_INTERVAL seconds and reloads nginx when the set of addresses changes:
# new replicas get requests, stopped ones leave the upstream (until then nginx passes a request
# that meets a gone replica on to the next one). Nothing to watch for unix sockets and literal
# addresses; NGINX_UPSTREAM_WATCH=off turns it off.
set -eu
me=$(basename "$0")
upstream=${GATEWAY_UPSTREAM:-}
[ "${NGINX_UPSTREAM_WATCH:-on}" = off ] && exit 0
case "$upstream" in
  "" | unix:* | \[*) exit 0 ;;
esac
host=${upstream%:*}
if printf '%s' "$host" | grep -Eq '^[0-9.]+$'; then exit 0; fi
interval=${NGINX_UPSTREAM_WATCH_INTERVAL:-1}

addresses() { getent ahostsv4 "$host" 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\n' ' '; }

watch() {
  current=$(addresses)
  echo "$me: $host is ${current:-not resolvable yet}; watching it every ${interval}s"
  while sleep "$interval"; do
    next=$(addresses)
    [ -n "$next" ] || continue
    [ "$next" = "$current" ] && continue
    if [ -f /var/run/nginx.pid ] && nginx -s reload 2>/dev/null; then
      echo "$me: $host is now $next(was ${current:-nothing}): nginx reloaded"
      current=$next
    fi
  done
}
watch </dev/null &
