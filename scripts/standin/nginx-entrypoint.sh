#!/bin/sh
# The nginx image's entry point contract: when the command is nginx, run every executable *.sh in
# /docker-entrypoint.d/ in order (source *.envsh), then exec the command.
set -eu
if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
  for script in /docker-entrypoint.d/*; do
    [ -f "$script" ] || continue
    case "$script" in
      *.envsh) [ -x "$script" ] && . "$script" ;;
      *.sh)
        if [ -x "$script" ]; then
          [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: running $script"
          "$script"
        fi
        ;;
    esac
  done
fi
exec "$@"
