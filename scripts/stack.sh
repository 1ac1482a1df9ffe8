#!/usr/bin/env bash
# The Gatehouse stack without Docker, on 127.0.0.1 only: a throwaway PostgreSQL, the gateway and
# nginx, from the same nginx template and entry points the containers use. State in .stack/.
#
#   scripts/stack.sh start [--protocol fastcgi|uwsgi|http|cgi] [--port N] [--app MODULE] [--unix]
#                          [--workers N] [--cgi-command CMD] [--upstream ADDR] [--tls]
#                          [--keep-postgres]
#       --upstream ADDR: put nginx in front of another server (host:port or unix:/path) speaking
#       the protocol instead of starting the gateway, e.g. uWSGI or PHP-FPM for comparisons.
#       --tls: HTTPS at --port, as in the containers (nginx/snippets/tls-on.conf), with a
#       certificate from a throwaway certificate authority made at each start (.stack/tls/ca.pem),
#       and a second, plain-HTTP port that redirects to it.
#       --keep-postgres: a PostgreSQL the stack already runs goes on running (the gateway and nginx
#       are restarted, the database migrated and bootstrapped again): no cluster restart.
#   scripts/stack.sh stop | status | reload
#
# `start` prints GATEHOUSE_URL=… and GATEWAY_LISTEN=… on stdout (with --tls also
# GATEHOUSE_HTTP_URL=…, the redirecting port, and `export OS_CACERT=…`, the authority to trust:
# openstack --os-cacert, curl --cacert), and the OS_* exports for the openstack client when the
# identity app is served; progress goes to stderr. Any GATEWAY_* or IDENTITY_* variable in the
# environment reaches the gateway, except the admin password: that is the bootstrap's. The
# identity app's gateway connects as the role `manage app-role` makes (gatehouse_app: rows only,
# no DDL); the PostgreSQL superuser only migrates. GATEHOUSE_STACK_DIR moves the state (default
# .stack/ in the checkout), so that two stacks can run side by side.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="${GATEHOUSE_STACK_DIR:-$root/.stack}"
logs="$state/logs"

say() { printf '[stack] %s\n' "$*" >&2; }
starting=0
die() {
  printf '[stack] error: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 20 "$2" | sed 's/^/[stack]   /' >&2; fi
  # A start that fails leaves nothing running.
  if [ "$starting" = 1 ]; then stop_stack; fi
  exit 1
}
# shellcheck source=lib/free-port.sh
. "$root/scripts/lib/free-port.sh"
# Whether host:port or unix:/path accepts a connection.
accepts() {
  node -e "const a=process.argv[1];const s=a.startsWith('unix:')?require('net').connect(a.slice(5)):require('net').connect(+a.split(':').pop(),a.slice(0,a.lastIndexOf(':')));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1))" "$1"
}
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_stack [keep-postgres]: with an argument, PostgreSQL goes on running.
stop_stack() {
  if alive "$state/nginx/nginx.pid"; then
    kill -QUIT "$(cat "$state/nginx/nginx.pid")" 2>/dev/null || true
  fi
  if alive "$state/gateway.pid"; then
    local pid
    pid=$(cat "$state/gateway.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/gateway.pid"
  [ -z "${1:-}" ] && [ -d "$state/pg" ] && "$root/scripts/pg.sh" stop "$state/pg"
  return 0
}

# A throwaway certificate authority (made at each start, its key never leaves .stack/tls) and the
# certificate nginx serves, for 127.0.0.1, ::1 and localhost, in nginx/tls/ as in the container.
make_certificates() {
  local dir="$state/tls" out="$state/nginx/tls"
  rm -rf "$dir" "$out"
  mkdir -p "$dir" "$out"
  chmod 700 "$dir" "$out"
  say "making a throwaway certificate authority ($dir/ca.pem) and nginx's certificate"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -sha256 \
      -subj "/CN=Gatehouse throwaway CA $(date -u +%Y%m%dT%H%M%SZ)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" &&
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$out/privkey.pem" -out "$dir/server.csr" &&
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$dir/server.ext" &&
      openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
        -days 2 -sha256 -extfile "$dir/server.ext" -out "$out/fullchain.pem"
  } >"$logs/tls.log" 2>&1 || die "could not make the certificates" "$logs/tls.log"
  chmod 644 "$dir/ca.pem"
}

status_stack() {
  local any=1
  if alive "$state/gateway.pid"; then
    echo "gateway: running (pid $(cat "$state/gateway.pid"), $(cat "$state/protocol" 2>/dev/null) on $(cat "$state/listen" 2>/dev/null))"
    any=0
  else echo "gateway: stopped"; fi
  if alive "$state/nginx/nginx.pid"; then
    echo "nginx: running (pid $(cat "$state/nginx/nginx.pid"), $(cat "$state/url" 2>/dev/null))"
    any=0
  else echo "nginx: stopped"; fi
  if [ -f "$state/pg/data/postmaster.pid" ] && kill -0 "$(head -n 1 "$state/pg/data/postmaster.pid")" 2>/dev/null; then
    echo "postgresql: running (port $(cat "$state/pg/port"))"
    any=0
  else echo "postgresql: stopped"; fi
  return $any
}

start_stack() {
  local ready=0 protocol=${GATEWAY_PROTOCOL:-fastcgi} port="" app="" unix=0 workers="${GATEWAY_PM_MAX_CHILDREN:-}"
  local cgi_command="${GATEWAY_CGI_COMMAND:-}" upstream="" tls=0 app_role=gatehouse_app keep_postgres=
  while [ $# -gt 0 ]; do
    case "$1" in
      --protocol) protocol=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      --app) app=$2; shift 2 ;;
      --unix) unix=1; shift ;;
      --workers) workers=$2; shift 2 ;;
      --cgi-command) cgi_command=$2; shift 2 ;;
      --upstream) upstream=$2; shift 2 ;;
      --tls) tls=1; shift ;;
      --keep-postgres) keep_postgres=keep-postgres; shift ;;
      *) die "unknown option $1 (see the header of $0)" ;;
    esac
  done
  case "$protocol" in fastcgi|uwsgi|http|cgi) ;; *) die "GATEWAY_PROTOCOL must be fastcgi, uwsgi, http or cgi, not '$protocol'" ;; esac
  command -v nginx >/dev/null || die "nginx is not installed (apt-get install nginx)"
  command -v envsubst >/dev/null || die "envsubst is not installed (apt-get install gettext-base)"
  [ "$tls" = 0 ] || command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
  [ -f "$root/gateway/dist/src/bin/gateway.js" ] || die "the gateway is not built: run npm ci && npm run build"

  stop_stack "$keep_postgres"
  starting=1
  mkdir -p "$logs" "$state/nginx/tmp" "$state/keys"
  chmod 755 "$state"

  # PostgreSQL
  say "starting PostgreSQL"
  local pg_env
  pg_env=$("$root/scripts/pg.sh" start "$state/pg") || die "PostgreSQL did not start"
  eval "$pg_env"
  export DATABASE_URL

  # The identity app's state, when it is the app being served. The admin password is for the
  # one-shot bootstrap only: the gateway never gets it.
  local identity=0 admin_password=""
  if [ -z "$app" ] && [ -f "$root/app/dist/src/manage.js" ]; then
    identity=1
    admin_password=${IDENTITY_ADMIN_PASSWORD:-}
    if [ -z "$admin_password" ]; then
      [ -f "$state/admin-password" ] || (umask 077; node -e "console.log(require('crypto').randomBytes(12).toString('base64url'))" >"$state/admin-password")
      admin_password=$(cat "$state/admin-password")
    fi
    unset IDENTITY_ADMIN_PASSWORD IDENTITY_ADMIN_PASSWORD_FILE
    export IDENTITY_FERNET_KEY_REPOSITORY="${IDENTITY_FERNET_KEY_REPOSITORY:-$state/keys/fernet}"
    export IDENTITY_CREDENTIAL_KEY_REPOSITORY="${IDENTITY_CREDENTIAL_KEY_REPOSITORY:-$state/keys/credential}"
    export IDENTITY_RECEIPT_KEY_REPOSITORY="${IDENTITY_RECEIPT_KEY_REPOSITORY:-$state/keys/receipt}"
  fi

  # nginx's port is known before the identity app is bootstrapped: its endpoints point at it. The
  # app itself derives its links from each request (Host, and HTTPS from nginx), as in the
  # containers, unless IDENTITY_PUBLIC_ENDPOINT is set.
  [ -n "$port" ] || port=$(free_port)
  local url="http://127.0.0.1:$port" http_url=""
  if [ "$tls" = 1 ]; then
    url="https://127.0.0.1:$port"
    http_url="http://127.0.0.1:$(free_port "$port")"
    make_certificates
  fi
  if [ "$identity" = 1 ]; then
    say "preparing the identity database and keys"
    # The key repositories need no database: made while the database is migrated and bootstrapped.
    local keys=() key
    for key in fernet credential receipt; do
      node "$root/app/dist/src/manage.js" "$key-setup" >"$logs/manage-$key.log" 2>&1 &
      keys+=("$key:$!")
    done
    for step in migrate bootstrap "app-role $app_role"; do
      local args=()
      [ "$step" = bootstrap ] && args=(--bootstrap-public-url "${IDENTITY_PUBLIC_ENDPOINT:-$url}")
      # shellcheck disable=SC2086 # "app-role ROLE" is two words
      IDENTITY_ADMIN_PASSWORD=$admin_password node "$root/app/dist/src/manage.js" $step "${args[@]}" >>"$logs/manage.log" 2>&1 \
        || { wait; die "manage $step failed" "$logs/manage.log"; }
    done
    for key in "${keys[@]}"; do
      wait "${key#*:}" || die "manage ${key%%:*}-setup failed" "$logs/manage-${key%%:*}.log"
    done
    # Least privilege: the superuser migrated; the gateway serves as a role that only reads and
    # writes rows (trust authentication on 127.0.0.1, as for the superuser).
    pg_env=$("$root/scripts/pg.sh" url "$state/pg" "$app_role") || die "no URL for the app role"
    eval "$pg_env"
    export DATABASE_URL
  fi

  # The gateway (unless nginx fronts another server)
  export GATEWAY_PROTOCOL="$protocol"
  local listen
  if [ -n "$upstream" ]; then
    listen=$upstream
    echo "$protocol" >"$state/protocol"
    echo "$listen (external)" >"$state/listen"
  else
    if [ "$unix" = 1 ]; then listen="unix:$state/gateway.sock"; else listen="127.0.0.1:$(free_port "$port" "${http_url##*:}")"; fi
    [ -n "$app" ] && export GATEWAY_APP="$app"
    [ -n "$workers" ] && export GATEWAY_PM_MAX_CHILDREN="$workers"
    [ -n "$cgi_command" ] && export GATEWAY_CGI_COMMAND="$cgi_command"
    export GATEWAY_PROTOCOL="$protocol" GATEWAY_LISTEN="$listen"
    say "starting the gateway ($protocol on $listen)"
    nohup node "$root/gateway/dist/src/bin/gateway.js" >"$logs/gateway.log" 2>&1 &
    echo $! >"$state/gateway.pid"
    echo "$protocol" >"$state/protocol"
    echo "$listen" >"$state/listen"
    ready=0
    for _ in $(seq 1 75); do
      alive "$state/gateway.pid" || die "the gateway exited" "$logs/gateway.log"
      if accepts "$listen"; then ready=1; break; fi
      sleep 0.2
    done
    [ "$ready" = 1 ] || die "the gateway did not become ready" "$logs/gateway.log"
  fi

  # nginx, from the same templates as the container
  say "starting nginx on $url${http_url:+ (and $http_url, redirecting to it)}"
  export NGINX_LISTEN_PORT="127.0.0.1:$port" GATEWAY_UPSTREAM="${listen}" \
    NGINX_HTML_ROOT="$root/nginx/html" NGINX_SNIPPETS_DIR="$root/nginx/snippets" \
    GATEWAY_STATUS_ALLOW="${GATEWAY_STATUS_ALLOW:-127.0.0.1}" GATEWAY_KEEPALIVE="${GATEWAY_KEEPALIVE:-on}" \
    NGINX_REQUEST_BUFFERING="${NGINX_REQUEST_BUFFERING:-on}" NGINX_AUTH_RATE="${NGINX_AUTH_RATE:-100r/s}" \
    NGINX_CLIENT_MAX_BODY_SIZE="${IDENTITY_MAX_REQUEST_BODY_SIZE:-114688}" NGINX_LISTEN_PARAMS="" NGINX_TLS=off NGINX_RESOLVER
  NGINX_RESOLVER=$(awk '$1 == "nameserver" { print ($2 ~ /:/) ? "[" $2 "]" : $2; exit }' /etc/resolv.conf 2>/dev/null || true)
  [ -n "$NGINX_RESOLVER" ] || NGINX_RESOLVER=127.0.0.1
  # tls-on.conf names its files relative to nginx.conf's directory, as in the container.
  ln -sfn "$root/nginx/snippets" "$state/nginx/snippets"
  : >"$state/nginx/redirect.conf"
  if [ "$tls" = 1 ]; then
    export NGINX_LISTEN_PARAMS="ssl http2" NGINX_TLS=on NGINX_REDIRECT_LISTEN_PORT="${http_url#http://}" \
      NGINX_HTTPS_PORT="$port" NGINX_ACME_ROOT="$state/acme"
    mkdir -p "$state/acme/.well-known/acme-challenge"
    envsubst '${NGINX_REDIRECT_LISTEN_PORT} ${NGINX_HTTPS_PORT} ${NGINX_ACME_ROOT}' \
      <"$root/nginx/templates/gatehouse-redirect.conf.template" >"$state/nginx/redirect.conf"
  fi
  envsubst '${GATEWAY_PROTOCOL} ${GATEWAY_UPSTREAM} ${NGINX_LISTEN_PORT} ${NGINX_HTML_ROOT} ${NGINX_SNIPPETS_DIR} ${GATEWAY_STATUS_ALLOW} ${GATEWAY_KEEPALIVE} ${NGINX_REQUEST_BUFFERING} ${NGINX_AUTH_RATE} ${NGINX_LISTEN_PARAMS} ${NGINX_TLS} ${NGINX_RESOLVER} ${NGINX_CLIENT_MAX_BODY_SIZE}' \
    <"$root/nginx/templates/gatehouse.conf.template" >"$state/nginx/gatehouse.conf"
  local user_line=""
  [ "$(id -u)" = 0 ] && user_line="user root root;"
  cat >"$state/nginx/nginx.conf" <<CONF
$user_line
worker_processes ${NGINX_WORKER_PROCESSES:-2};
pid $state/nginx/nginx.pid;
error_log $logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $state/nginx/tmp/body;
    fastcgi_temp_path $state/nginx/tmp/fastcgi;
    uwsgi_temp_path $state/nginx/tmp/uwsgi;
    proxy_temp_path $state/nginx/tmp/proxy;
    scgi_temp_path $state/nginx/tmp/scgi;
    include $state/nginx/gatehouse.conf;
    include $state/nginx/redirect.conf;
    access_log ${NGINX_ACCESS_LOG:-$logs/nginx-access.log gatehouse_json};
}
CONF
  nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -t >"$logs/nginx-test.log" 2>&1 || die "nginx rejected its configuration" "$logs/nginx-test.log"
  nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" >"$logs/nginx.log" 2>&1 || die "nginx did not start" "$logs/nginx-error.log"
  echo "$url" >"$state/url"
  local trust=()
  [ "$tls" = 1 ] && trust=(--cacert "$state/tls/ca.pem")
  ready=0
  for _ in $(seq 1 100); do
    if [ "$(curl -s "${trust[@]}" -o /dev/null -w '%{http_code}' "$url/index.html")" = 200 ] &&
       { [ -n "$upstream" ] || [ "$(curl -s "${trust[@]}" "$url/gateway/ping")" = pong ]; }; then ready=1; break; fi
    sleep 0.1
  done
  [ "$ready" = 1 ] || die "nginx does not serve the page and the gateway's ping" "$logs/nginx-error.log"

  starting=0
  say "ready: $protocol through nginx at $url"
  echo "GATEHOUSE_URL=$url"
  echo "GATEWAY_LISTEN=$listen"
  if [ "$tls" = 1 ]; then
    echo "GATEHOUSE_HTTP_URL=$http_url"
    echo "export OS_CACERT=$state/tls/ca.pem"
  fi
  if [ "$identity" = 1 ]; then
    cat <<OSRC
export OS_AUTH_URL=$url/v3
export OS_USERNAME=admin
export OS_PASSWORD=$admin_password
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
OSRC
  fi
}

case "${1:-}" in
  start) shift; start_stack "$@" ;;
  stop) stop_stack; say "stopped" ;;
  status) status_stack ;;
  reload)
    alive "$state/gateway.pid" || die "the gateway is not running"
    kill -HUP "$(cat "$state/gateway.pid")"
    say "reload signal sent to the gateway (pid $(cat "$state/gateway.pid"))"
    ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
