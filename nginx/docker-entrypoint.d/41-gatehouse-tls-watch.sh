#!/bin/sh
# Reloads nginx when the certificate or its key changes (a renewal written to the certificate
# volume): every NGINX_TLS_WATCH_INTERVAL seconds (60) it compares their checksum and, once the
# new pair passes `nginx -t` (a key written before its certificate does not), sends the reload
# signal. A reload is graceful: old workers finish their connections, new ones use the new
# certificate. NGINX_TLS_WATCH=off turns it off.
set -eu
me=$(basename "$0")
[ "${NGINX_TLS_WATCH:-on}" = off ] && exit 0
interval=${NGINX_TLS_WATCH_INTERVAL:-60}
files="/etc/nginx/tls/fullchain.pem /etc/nginx/tls/privkey.pem"

# shellcheck disable=SC2086
checksum() { cat $files 2>/dev/null | cksum; }

watch() {
  current=$(checksum)
  echo "$me: watching $files every ${interval}s"
  while sleep "$interval"; do
    next=$(checksum)
    [ "$next" = "$current" ] && continue
    if [ -f /var/run/nginx.pid ] && nginx -t -q 2>/dev/null && nginx -s reload 2>/dev/null; then
      echo "$me: the certificate changed: nginx reloaded"
      current=$next
    fi
  done
}
watch </dev/null &
