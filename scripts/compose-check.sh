#!/usr/bin/env bash
# Builds and runs the Docker Compose stack exactly as a user would, on this machine only, and checks
# it through the published port. No image is pulled from any registry: the three base images the
# stack names (node, nginx, postgres) are replaced by stand-ins built from a debootstrapped Debian
# bookworm (scripts/standin/, built by scripts/lib/docker-check.sh, which scripts/swarm-check.sh
# shares), passed as the NODE_IMAGE / NGINX_IMAGE / POSTGRES_IMAGE variables.
#
#   scripts/compose-check.sh
#
#  1. uses the running Docker engine, or starts one (and stops only what it started);
#  2. builds the stand-in images (the debootstrap root filesystem is cached in
#     $GATEHOUSE_CACHE_DIR, default /var/cache/gatehouse, and used while its checksum holds; the
#     image imported from it is kept as well, so a second run starts from there);
#  3. docker-compose build, up -d, waits for every service to be healthy, then checks over HTTPS
#     (the self-signed certificate nginx made at first start as the one authority trusted: curl
#     --cacert, openstack --os-cacert) the static page, the login page, HSTS, HTTP/2, GET /v3 and
#     its https links, `openstack token issue` and `catalog list`, and the plain-HTTP port's
#     redirect; #     switches to uwsgi, http and cgi (only nginx and the gateway restart) and checks again, then
#     fastcgi over a unix socket on a volume nginx and the gateway share;
#     scales the gateway to 2 and stops one replica under a short bounded load: no request may
#     fail once it is gone; down and up again: the admin, a token issued before and the
#     certificate still work; a new certificate written to the volume is served without a restart;
#  4. tears everything down (down -v, the images it built), within COMPOSE_CHECK_TIMEOUT seconds.
#
# Without a Docker engine (none running and none can be started) it prints one SKIP line and exits
# 0, except with CI=true, where that is a failure. Everything listens on 127.0.0.1 or inside the
# stack's own networks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/docker-check.sh
. "$root/scripts/lib/docker-check.sh"
begin_check compose "${COMPOSE_CHECK_TIMEOUT:-1200}"
project="gatehouse-check-$$"
# GATEHOUSE_KEEP_IMAGES=1 keeps the images it built (gatehouse-check-*, the stand-ins) under
# GATEHOUSE_CHECK_TAG for scripts/swarm-check.sh, which runs next and removes them.
tag="${GATEHOUSE_CHECK_TAG:-check-$$}"
keep_images=${GATEHOUSE_KEEP_IMAGES:-0}
up=0

fail() {
  printf '[compose-check] FAILED: %s\n' "$*" >&2
  if [ "$up" = 1 ]; then
    compose ps >&2 || true
    compose logs --no-color --tail 40 >&2 || true
  fi
  exit 1
}

cleanup() {
  local code=$?
  set +e
  if [ "$up" = 1 ] && [ "$keep_images" = 1 ] && [ "$code" = 0 ]; then
    say "tearing down (down -v), keeping the images for the swarm check (tag $tag)"
    compose down -v --remove-orphans >/dev/null 2>&1
  elif [ "$up" = 1 ]; then
    say "tearing down (down -v, the images it built)"
    compose down -v --remove-orphans --rmi all >/dev/null 2>&1
  fi
  if [ "$keep_images" = 1 ] && [ "$code" = 0 ]; then
    :
  elif docker info >/dev/null 2>&1; then
    remove_standin_images
  fi
  finish_check "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. a Docker engine ---------------------------------------------------------------------------
start_docker_engine
command -v openstack >/dev/null || fail "the openstack client is needed (apt-get install python3-openstackclient)"
say "Docker engine $(docker version -f '{{.Server.Version}}'), $(docker-compose version --short 2>/dev/null || echo compose)"

# --- 2. stand-in base images ----------------------------------------------------------------------
build_standin_images

# --- 3. the stack ---------------------------------------------------------------------------------
port=$(free_port)
http_port=$(free_port "$port")
url="https://127.0.0.1:$port"
http_url="http://127.0.0.1:$http_port"
# nginx's self-signed certificate (for localhost, 127.0.0.1 and ::1), copied out once it is made.
cacert="$work/nginx-certificate.pem"
stack_environment docker-compose.yml
export COMPOSE_PROJECT_NAME="$project"
export GATEHOUSE_IMAGE_PREFIX="gatehouse-check" GATEHOUSE_IMAGE_TAG="$tag"
# No IDENTITY_PUBLIC_ENDPOINT: the defaults (bootstrap registers https://localhost:PORT, links
# follow each request) are what is checked. The certificate watcher looks every 2 s here.
export GATEHOUSE_HTTP_BIND=127.0.0.1 GATEHOUSE_HTTPS_PORT="$port" GATEHOUSE_HTTP_PORT="$http_port"
export NGINX_TLS_WATCH_INTERVAL=2
# Never a .env from the working tree: the defaults are what is checked.
: >"$work/empty.env"
compose() { docker-compose --project-directory "$root" -f "$root/docker-compose.yml" --env-file "$work/empty.env" "$@"; }

say "docker-compose build"
up=1
compose build --force-rm >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "docker-compose build"; }
in_time

container_of() { compose ps -q "$1" | head -n 1; }
# Waits until every running container of the stack is healthy (migrate: exited 0).
wait_healthy() {
  local deadline=$((SECONDS + ${1:-180})) ids id state health pending
  while :; do
    pending=""
    ids=$(compose ps -q)
    for id in $ids; do
      state=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}' "$id")
      case "$state" in
        *migrate*" exited - 0") ;;
        *" running healthy "*) ;;
        *" exited "* | *" dead "*) fail "container stopped: $state" ;;
        *) pending="$pending ${state%% *}" ;;
      esac
    done
    [ -n "$ids" ] && [ -z "$pending" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || fail "not healthy in time:$pending"
    sleep 1
  done
}

# The generated admin password is never in the setup's log: the one-shot setup prints it on request.
admin_password() {
  compose run --rm --no-deps -T migrate gatehouse-setup --print-admin-password 2>/dev/null | tr -d '\r'
}
# Least privilege: the app's connections are the app role's (no superuser), and neither the
# superuser's nor the admin password is in the gateway's environment or the setup's log.
check_privileges() {
  local users env
  users=$(compose exec -T db psql -U gatehouse -d gatehouse -tAc \
    "SELECT string_agg(DISTINCT a.usename || ':' || r.rolsuper, ',') FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()" | tr -d '\r')
  [ "$users" = "gatehouse_app:false" ] || fail "the gateway connects to PostgreSQL as $users, not gatehouse_app (no superuser)"
  env=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(container_of gateway)")
  grep -Eq '^(PGPASSWORD=|POSTGRES_PASSWORD|IDENTITY_ADMIN_PASSWORD)' <<<"$env" && fail "the gateway's environment holds a password"
  compose logs --no-color migrate 2>/dev/null | grep -qF "$password" && fail "the admin password is in the setup's log"
  say "the gateway connects as gatehouse_app, holds no password; the admin password is not logged"
}
os() {
  openstack --os-auth-url "https://localhost:$port/v3" --os-cacert "$cacert" --os-identity-api-version 3 \
    --os-username admin --os-password="$password" --os-project-name admin --os-user-domain-name Default \
    --os-project-domain-name Default "$@"
}
# curl trusting nginx's certificate only.
tcurl() { curl --cacert "$cacert" "$@"; }
fetch_certificate() {
  compose exec -T nginx cat /etc/nginx/tls/fullchain.pem >"$cacert" || fail "no certificate in nginx's volume"
}
served_fingerprint() {
  openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256
}

check_stack() {
  local mode=$1 headers body endpoints
  headers=$(tcurl -fsS -D - -o "$work/index.html" "$url/index.html" | tr -d '\r') || fail "$mode: GET /index.html"
  grep -q 'Gatehouse' "$work/index.html" || fail "$mode: the index page has no title"
  grep -qi '^x-content-type-options: nosniff' <<<"$headers" || fail "$mode: no security headers"
  grep -qix 'server: nginx' <<<"$headers" || fail "$mode: server_tokens is not off"
  grep -qi '^HTTP/2 200' <<<"$headers" || fail "$mode: HTTP/2 was not negotiated: $(head -n 1 <<<"$headers")"
  grep -qix 'strict-transport-security: max-age=63072000' <<<"$headers" || fail "$mode: no HSTS"
  tcurl -fsS "$url/login.html" | grep -q 'id="login"' || fail "$mode: GET /login.html"
  headers=$(tcurl -fsS -D - -o "$work/v3.json" "$url/v3" | tr -d '\r') || fail "$mode: GET /v3"
  grep -q '"id":"v3' "$work/v3.json" || fail "$mode: GET /v3 answered $(head -c 200 "$work/v3.json")"
  grep -qF "\"href\":\"$url/v3/\"" "$work/v3.json" || fail "$mode: GET /v3's links are not $url: $(cat "$work/v3.json")"
  grep -qix "x-gatehouse-protocol: $mode" <<<"$headers" || fail "$mode: nginx does not speak $mode"
  body=$(tcurl -s -o /dev/null -w '%{http_code}' "$url/gateway/status")
  [ "$body" = 403 ] || fail "$mode: the status page answered $body from outside, not 403"
  body=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$http_url/v3?x=1")
  [ "$body" = "308 $url/v3?x=1" ] || fail "$mode: plain HTTP answered '$body', not a redirect to $url"
  token=$(os token issue -f value -c id) || fail "$mode: openstack token issue"
  [ -n "$token" ] || fail "$mode: openstack token issue printed no token"
  endpoints=$(os catalog list -f value -c Endpoints) || fail "$mode: openstack catalog list"
  { grep -q "'url': 'https://localhost:$port/v3/'" <<<"$endpoints" && ! grep -q "'url': 'http:" <<<"$endpoints"; } ||
    fail "$mode: the catalog's endpoints are not https://localhost:$port/v3/: $endpoints"
  say "$mode: static page, login page, GET /v3 (HTTP/2, HSTS, https links), plain HTTP redirect, openstack token issue and catalog list through $url"
}
started() { docker inspect -f '{{.Id}} {{.State.StartedAt}}' "$1"; }

say "docker-compose up -d (fastcgi)"
compose up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "docker-compose up"; }
wait_healthy 240
password=$(admin_password)
[ -n "$password" ] || fail "gatehouse-setup --print-admin-password printed nothing"
fetch_certificate
openssl x509 -in "$cacert" -noout -ext subjectAltName | grep -q 'DNS:localhost, IP Address:127.0.0.1' ||
  fail "the self-signed certificate is not for localhost and 127.0.0.1"
fingerprint=$(served_fingerprint)
[ -n "$fingerprint" ] || fail "no certificate served on $url"
check_stack fastcgi
check_privileges
in_time

# Modes: nginx and the gateway are recreated in the new mode; the database keeps running. Compose
# starts the one-shot setup again on every `up`: it must find nothing to do.
db_before=$(started "$(container_of db)")
for mode in uwsgi http cgi; do
  nginx_before=$(container_of nginx) gateway_before=$(container_of gateway)
  GATEWAY_PROTOCOL=$mode compose up -d >"$work/up-$mode.log" 2>&1 || { cat "$work/up-$mode.log" >&2; fail "up ($mode)"; }
  wait_healthy 180
  [ "$(started "$(container_of db)")" = "$db_before" ] || fail "$mode: the database restarted"
  [ "$(container_of nginx)" != "$nginx_before" ] || fail "$mode: nginx was not recreated"
  [ "$(container_of gateway)" != "$gateway_before" ] || fail "$mode: the gateway was not recreated"
  setup_log=$(compose logs --no-color migrate)
  # The first setup made the Fernet, credential and receipt key repositories; no later one makes any.
  [ "$(grep -c 'created keys in' <<<"$setup_log")" = 3 ] || fail "$mode: the setup created keys again"
  [ "$(grep -c 'generated the admin password' <<<"$setup_log")" = 1 ] || fail "$mode: a second admin password"
  grep -q 'the database is up to date' <<<"$setup_log" || fail "$mode: the setup did not find the schema current"
  check_stack "$mode"
  in_time
done

# The unix-socket variant: nginx and the gateway share the socket on a volume.
socket=unix:/run/gatehouse/gateway.sock
GATEWAY_LISTEN=$socket GATEWAY_UPSTREAM=$socket compose up -d >"$work/up-unix.log" 2>&1 ||
  { cat "$work/up-unix.log" >&2; fail "up (unix socket)"; }
wait_healthy 180
compose exec -T nginx sh -c 'grep -q "server unix:/run/gatehouse/gateway.sock" /etc/nginx/conf.d/gatehouse.conf' ||
  fail "unix socket: nginx's upstream is not the socket"
check_stack fastcgi
say "fastcgi over the unix socket on the shared volume"
in_time

# Scale: two replicas, then one stopped under a short bounded load.
say "fastcgi with --scale gateway=2"
compose up -d --scale gateway=2 >"$work/up-scale.log" 2>&1 || { cat "$work/up-scale.log" >&2; fail "up --scale"; }
wait_healthy 180
mapfile -t replicas < <(compose ps -q gateway)
[ "${#replicas[@]}" = 2 ] || fail "expected 2 gateway replicas, found ${#replicas[@]}"
# nginx must send requests to both: the gateway's access log shows who served what.
for _ in $(seq 1 40); do
  for _ in $(seq 1 20); do tcurl -fsS -o /dev/null "$url/v3"; done
  served=0
  for id in "${replicas[@]}"; do
    docker logs "$id" 2>&1 | grep -q '"uri":"/v3"' && served=$((served + 1))
  done
  [ "$served" = 2 ] && break
  sleep 0.5
done
[ "$served" = 2 ] || fail "nginx did not spread requests over both replicas"
say "both replicas serve requests"
# Load tests on this machine take turns (flock /tmp/bench.lock); the load is 12 s, bounded.
flock -w "$(left)" /tmp/bench.lock env NODE_EXTRA_CA_CERTS="$cacert" \
  node scripts/compose-load.mjs "$url/v3" 12 4 3 "${replicas[1]}" >"$work/load.json" ||
  fail "load while a replica stopped: $(cat "$work/load.json")"
say "one replica stopped under load: $(cat "$work/load.json")"
in_time

# Down and up: the database and the key repositories are on volumes.
say "down and up again"
compose down >"$work/down.log" 2>&1 || fail "docker-compose down"
compose up -d >"$work/up-again.log" 2>&1 || { cat "$work/up-again.log" >&2; fail "up after down"; }
wait_healthy 240
[ "$(served_fingerprint)" = "$fingerprint" ] || fail "a new certificate after down and up: the first was not kept"
status=$(tcurl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $token" -H "X-Subject-Token: $token" "$url/v3/auth/tokens")
[ "$status" = 200 ] || fail "a token issued before down does not validate after up ($status)"
tcurl -fsS -H "X-Auth-Token: $token" -H "X-Subject-Token: $token" "$url/v3/auth/tokens" | grep -q '"name":"admin"' ||
  fail "the token's admin user did not survive"
check_stack fastcgi
say "the admin, a token issued before down and the certificate survived down and up"

# A renewed certificate (as certbot's deploy hook would copy it) is picked up by the watcher, and
# nginx reloads without restarting its container.
nginx_started=$(started "$(container_of nginx)")
compose exec -T nginx sh -c 'cd /etc/nginx/tls &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout privkey.pem.new -out fullchain.pem.new 2>/dev/null &&
  mv privkey.pem.new privkey.pem && mv fullchain.pem.new fullchain.pem' || fail "could not write a new certificate"
renewed=""
for _ in $(seq 1 60); do
  renewed=$(served_fingerprint)
  [ -n "$renewed" ] && [ "$renewed" != "$fingerprint" ] && break
  sleep 0.5
done
[ "$renewed" != "$fingerprint" ] || fail "nginx still serves the old certificate"
[ "$(started "$(container_of nginx)")" = "$nginx_started" ] || fail "nginx restarted to take the new certificate"
fetch_certificate
tcurl -fsS -o /dev/null "$url/index.html" || fail "the renewed certificate is not the one served"
# Read whole, then searched: `compose logs | grep -q` fails under pipefail when grep stops reading.
reloaded=0
for _ in $(seq 1 20); do
  nginx_log=$(compose logs --no-color nginx 2>&1)
  if grep -q 'the certificate changed: nginx reloaded' <<<"$nginx_log"; then reloaded=1; break; fi
  sleep 0.5
done
[ "$reloaded" = 1 ] || fail "no reload in nginx's log"
say "a new certificate on the volume is served after a graceful reload"
say "PASSED in $((SECONDS - started_at))s"
