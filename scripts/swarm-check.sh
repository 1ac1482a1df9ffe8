#!/usr/bin/env bash
# Deploys the stack on Docker Swarm exactly as docker-stack.yml describes it, on this machine only,
# and measures what an operator cares about under load. Like scripts/compose-check.sh (whose
# stand-in base images, debootstrap cache and engine handling it shares, scripts/lib/docker-check.sh):
# no image is pulled.
#
#   scripts/swarm-check.sh
#
#  1. uses the running Docker engine, or starts one (and stops only what it started); initialises a
#     single-node swarm when the engine is in none (and leaves it at the end), labels the node for
#     PostgreSQL's volume (and removes the label);
#  2. builds the stand-in base images and the stack's images (docker-compose build, as compose-check);
#  3. makes the secrets (passwords, Fernet and credential keys with gatehouse-manage), `docker stack
#     deploy`s docker-stack.yml, waits for the setup job and every service to be healthy, checks
#     GET /v3 and a token through nginx;
#  4. under a short load through nginx (GET /v3/auth/tokens, a validation): a rolling update of the
#     gateway to a new image (no request may fail), one replica killed (at most its in-flight
#     requests may fail), a token revoked through one replica and refused by every other (within
#     1 s), PostgreSQL restarted (only 2xx and 503 answers, no other), and reports each figure;
#  5. removes the stack, its volumes, secrets, networks and images, within SWARM_CHECK_TIMEOUT s.
#
# Without a Docker engine it prints one SKIP line and exits 0, except with CI=true, where that is a
# failure. Where the kernel has no IPVS (the routing mesh and virtual IPs need it) nginx's ports are
# published in host mode instead of through the mesh, and the report says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/docker-check.sh
. "$root/scripts/lib/docker-check.sh"
begin_check swarm "${SWARM_CHECK_TIMEOUT:-1200}"
stack="ghswarm$$"
tag="swarm-$$"
prefix="gatehouse-swarm"
# Right after compose-check.sh (scripts/test.sh): the images it built and kept under this tag
# (GATEHOUSE_KEEP_IMAGES=1 there) are used, and removed at the end, instead of building them again.
reuse_tag=${GATEHOUSE_CHECK_TAG:-}
deployed=0
built=0
swarm_joined=0
gwbridge_made=0
labelled=""

fail() {
  printf '[swarm-check] FAILED: %s\n' "$*" >&2
  if [ "$deployed" = 1 ]; then
    docker stack ps --no-trunc "$stack" >&2 2>/dev/null | head -n 30 || true
    for s in gateway migrate db nginx; do
      docker service logs --tail 15 "${stack}_$s" >&2 2>/dev/null || true
    done
  fi
  exit 1
}

cleanup() {
  local code=$?
  set +e
  if docker info >/dev/null 2>&1; then
    if [ "$deployed" = 1 ]; then
      say "removing the stack, its volumes and images"
      docker stack rm "$stack" >/dev/null 2>&1
      # stack rm returns before the tasks are gone; volumes and networks go once they are.
      for _ in $(seq 1 120); do
        [ -z "$(docker ps -q --filter "label=com.docker.stack.namespace=$stack")" ] &&
          [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ] && break
        sleep 0.5
      done
      docker ps -aq --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker rm -f >/dev/null 2>&1
      docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm -f >/dev/null 2>&1
      docker secret ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker secret rm >/dev/null 2>&1
    fi
    [ -n "$labelled" ] && docker node update --label-rm gatehouse.db "$labelled" >/dev/null 2>&1
    if [ "$swarm_joined" = 1 ]; then
      say "leaving the swarm it initialised"
      docker swarm leave --force >/dev/null 2>&1
      # The bridge Swarm made for its containers' way out outlives the swarm.
      [ "$gwbridge_made" = 1 ] && docker network rm docker_gwbridge >/dev/null 2>&1
    fi
    if [ "$built" = 1 ]; then
      for image in "$prefix-gateway:$tag" "$prefix-nginx:$tag"; do
        docker image rm -f "$image" >/dev/null 2>&1
      done
    fi
    remove_standin_images
  fi
  finish_check "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. a Docker engine, a swarm ------------------------------------------------------------------
start_docker_engine
say "Docker engine $(docker version -f '{{.Server.Version}}'), $(docker-compose version --short 2>/dev/null || echo compose)"

# A single-node swarm, unless the engine is in one already (then it is used, and left as it is).
swarm_state=$(docker info -f '{{.Swarm.LocalNodeState}}')
case "$swarm_state" in
  inactive)
    docker network inspect docker_gwbridge >/dev/null 2>&1 || gwbridge_made=1
    docker swarm init --advertise-addr 127.0.0.1 >"$work/swarm-init.log" 2>&1 ||
      { cat "$work/swarm-init.log" >&2; fail "docker swarm init"; }
    swarm_joined=1
    say "initialised a single-node swarm (it leaves it at the end)"
    ;;
  active) say "the engine is in a swarm already: using it, leaving it as it is" ;;
  *) fail "the engine's swarm is $swarm_state" ;;
esac
[ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ] || fail "this node is no swarm manager"
node_id=$(docker info -f '{{.Swarm.NodeID}}')
docker node update --label-add gatehouse.db=true "$node_id" >/dev/null
labelled=$node_id
# The routing mesh and virtual IPs are IPVS: without it in the kernel, nginx's ports are host-published.
if [ -e /proc/net/ip_vs ] || [ -d /proc/sys/net/ipv4/vs ]; then
  publish_mode=ingress
else
  publish_mode=host
  say "the kernel has no IPVS: nginx's ports are published in host mode, not through the routing mesh"
fi
in_time

# --- 2. images ----------------------------------------------------------------------------------
reused=0
if [ -n "$reuse_tag" ] && docker image inspect "gatehouse-check-gateway:$reuse_tag" "gatehouse-check-nginx:$reuse_tag" \
  "$standin/postgres:$reuse_tag" >/dev/null 2>&1; then
  reused=1 prefix=gatehouse-check tag=$reuse_tag built=1
  say "using the images compose-check built and kept ($prefix-gateway:$tag, $prefix-nginx:$tag, $standin/postgres:$tag)"
fi
port=$(free_port)
http_port=$(free_port "$port")
url="https://127.0.0.1:$port"
cacert="$work/nginx-certificate.pem"
stack_environment docker-compose.yml docker-stack.yml
export GATEHOUSE_IMAGE_PREFIX="$prefix" GATEHOUSE_IMAGE_TAG="$tag"
if [ "$reused" = 0 ]; then
  build_standin_images
  : >"$work/empty.env"
  say "docker-compose build (the gateway and nginx images)"
  built=1
  COMPOSE_PROJECT_NAME="$stack" docker-compose --project-directory "$root" -f "$root/docker-compose.yml" \
    --env-file "$work/empty.env" build --force-rm gateway nginx >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; fail "docker-compose build"; }
fi
in_time

# --- 3. secrets, deploy ---------------------------------------------------------------------------
secrets="$work/secrets"
mkdir -p "$secrets"
generate() { node -e "process.stdout.write(require('node:crypto').randomBytes(18).toString('base64url'))"; }
(umask 077 && generate >"$secrets/postgres-password" && generate >"$secrets/app-db-password" &&
  generate >"$secrets/admin-password")
password=$(cat "$secrets/admin-password")
# The key repositories as an operator makes them: setup, then one rotation (0 staged, 1, 2 primary).
IDENTITY_FERNET_KEY_REPOSITORY="$secrets/fernet-keys" node app/dist/src/manage.js fernet-setup >/dev/null
IDENTITY_FERNET_KEY_REPOSITORY="$secrets/fernet-keys" node app/dist/src/manage.js fernet-rotate >/dev/null
IDENTITY_CREDENTIAL_KEY_REPOSITORY="$secrets/credential-keys" node app/dist/src/manage.js credential-setup >/dev/null
IDENTITY_RECEIPT_KEY_REPOSITORY="$secrets/receipt-keys" node app/dist/src/manage.js receipt-setup >/dev/null
IDENTITY_RECEIPT_KEY_REPOSITORY="$secrets/receipt-keys" node app/dist/src/manage.js receipt-rotate >/dev/null
[ "$(ls "$secrets/fernet-keys" | tr '\n' ' ')" = "0 1 2 " ] || fail "fernet keys: $(ls "$secrets/fernet-keys")"
[ "$(ls "$secrets/receipt-keys" | tr '\n' ' ')" = "0 1 2 " ] || fail "receipt keys: $(ls "$secrets/receipt-keys")"

export GATEHOUSE_SECRETS="$secrets" GATEHOUSE_STACK="$stack" GATEHOUSE_HTTPS_PORT="$port" GATEHOUSE_HTTP_PORT="$http_port"
export GATEHOUSE_PUBLISH_MODE="$publish_mode"
# Three replicas of one worker each share this machine's cores with PostgreSQL and the load.
export GATEWAY_PM_MAX_CHILDREN=1 GATEWAY_ACCESS_LOG=false IDENTITY_INVALIDATION_HEARTBEAT=1
say "docker stack deploy $stack (3 gateway replicas, https on $port, $publish_mode-published)"
deployed=1
docker stack deploy --resolve-image never -c docker-stack.yml "$stack" >"$work/deploy.log" 2>&1 ||
  { cat "$work/deploy.log" >&2; fail "docker stack deploy"; }

# Every service at its replica count with each task healthy, and the setup job completed.
wait_healthy() {
  local deadline=$((SECONDS + ${1:-300})) pending id state
  while :; do
    pending=""
    [ "$(docker service ls --filter "name=${stack}_migrate" --format '{{.Replicas}}')" = "0/1 (1/1 completed)" ] ||
      pending="$pending migrate"
    for s in db gateway nginx; do
      want=$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "${stack}_$s")
      have=0
      for id in $(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$s"); do
        state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")
        [ "$state" = "running healthy" ] && have=$((have + 1))
      done
      [ "$have" = "$want" ] || pending="$pending $s($have/$want)"
    done
    [ -z "$pending" ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || fail "not healthy in time:$pending"
    sleep 1
  done
}
wait_healthy 900
gateways() { docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_gateway"; }
nginx_container=$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_nginx" | head -n 1)
docker exec "$nginx_container" cat /etc/nginx/tls/fullchain.pem >"$cacert" || fail "no certificate in nginx"
tcurl() { curl --cacert "$cacert" --connect-to "localhost:$port:127.0.0.1:$port" "$@"; }
url="https://localhost:$port"
tcurl -fsS "$url/v3" | grep -q '"id":"v3' || fail "GET /v3 through nginx"
login='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'"$password"'"}}},"scope":{"system":{"all":true}}}}'
issue() {
  tcurl -fsS -D - -o /dev/null -H 'content-type: application/json' -d "$login" "$url/v3/auth/tokens" |
    tr -d '\r' | awk 'tolower($1) == "x-subject-token:" { print $2 }'
}
token=$(issue)
[ -n "$token" ] || fail "no token issued through nginx"
say "deployed: setup job done, $(gateways | wc -l) gateways healthy, a token issued through nginx"
in_time

# --- 4. under load --------------------------------------------------------------------------------
headers='{"x-auth-token":"'"$token"'","x-subject-token":"'"$token"'"}'
field() { node -e "const r=JSON.parse(process.argv[1]);console.log(r[process.argv[2]])" "$1" "$2"; }
under_load() {
  flock -w "$(left)" /tmp/bench.lock env NODE_EXTRA_CA_CERTS="$cacert" \
    node scripts/swarm-load.mjs "$url/v3/auth/tokens" 6 "${SWARM_CHECK_RATE:-40}" "$1" "$headers" -- "${@:2}"
}

# What the stack did during a measurement, on one time line with the failed requests.
timeline() {
  say "time line (ms from the command's start):"
  timeout 120 node scripts/swarm-timeline.mjs "$stack" "$(field "$1" startedAt)" "$1" | head -n 300 >&2 || true
}

# a. A rolling update (an environment change): start-first, each new task healthy before an old one
#    drains.
say "rolling update of the gateway (an environment change), under load"
rolling=$(under_load 2 docker service update --detach=false --quiet --env-add GATEHOUSE_ROLLOUT=2 \
  "${stack}_gateway") || fail "rolling update: $rolling"
say "FIGURE rolling update: $(field "$rolling" requests) requests, $(($(field "$rolling" requests) - $(field "$rolling" ok))) failed ($(field "$rolling" unavailable) 503, $(field "$rolling" other) other statuses, $(field "$rolling" errors) errors); the update took $(field "$rolling" commandMs) ms"
[ "${SWARM_CHECK_TIMELINE:-0}" = 1 ] && timeline "$rolling"
if [ "$(field "$rolling" ok)" != "$(field "$rolling" requests)" ]; then
  timeline "$rolling"
  fail "requests failed during the rolling update: $rolling"
fi
docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{println .}}{{end}}' "${stack}_gateway" |
  grep -qx GATEHOUSE_ROLLOUT=2 || fail "the gateway was not updated (rolled back?)"
wait_healthy 180
in_time

# b. One replica killed (SIGKILL, no drain): only what it had in flight may fail.
victim=$(gateways | head -n 1)
say "killing gateway replica ${victim:0:12} under load"
killed=$(under_load 4 docker kill "$victim") || fail "replica kill: $killed"
failed=$(($(field "$killed" requests) - $(field "$killed" ok)))
say "FIGURE replica killed: $(field "$killed" requests) requests, $failed failed (6 connections in flight at most): $killed"
if [ "$failed" -gt 6 ]; then
  timeline "$killed"
  fail "more requests failed than were in flight when the replica was killed: $killed"
fi
wait_healthy 180
in_time

# c. A token revoked through one replica is refused by every other.
subject=$(issue)
probe=$(docker exec -i -u node "$(gateways | head -n 1)" node --input-type=module - "$token" "$subject" \
  <scripts/swarm-probe.mjs) || fail "revocation probe: $probe"
say "FIGURE revocation visible on all $(field "$probe" replicas) replicas after $(field "$probe" allRefusedAfterMs) ms: $probe"
[ "$(field "$probe" allRefusedAfterMs)" -le 1000 ] || fail "a revoked token was accepted for more than 1 s"
in_time

# d. PostgreSQL restarted (stopped with its stop signal, a new task started on the same volume).
say "restarting PostgreSQL under load"
restart=$(under_load 3 docker service update --detach=false --quiet --force "${stack}_db") ||
  fail "PostgreSQL restart: $restart"
health_log=$(for id in $(gateways); do docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$id"; done)
recovered=$(node -e "const r=JSON.parse(process.argv[1]);console.log(r.lastBadMs===null?0:((r.recoveredMs??r.lastBadMs)/1000).toFixed(1))" "$restart")
say "FIGURE PostgreSQL restart: $(field "$restart" requests) requests: $(field "$restart" ok) 2xx, $(field "$restart" unavailable) 503, $(($(field "$restart" other) + $(field "$restart" errors))) other; recovered ${recovered}s after the restart began: $restart"
if [ "$(field "$restart" other)" != 0 ] || [ "$(field "$restart" errors)" != 0 ]; then
  timeline "$restart"
  fail "answers other than 2xx and 503 while PostgreSQL restarted: $restart"
fi
if grep -q 'unhealthy: database unreachable' <<<"$health_log"; then
  say "the gateways' healthchecks reported the database unreachable during the restart"
fi
wait_healthy 180
[ "$(tcurl -s -o /dev/null -w '%{http_code}' -H "x-auth-token: $token" -H "x-subject-token: $token" "$url/v3/auth/tokens")" = 200 ] ||
  fail "the token does not validate after PostgreSQL's restart"
say "PASSED in $((SECONDS - started_at))s"
