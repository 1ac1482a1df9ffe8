#!/usr/bin/env bash
# GET /v3/role_assignments?effective, app level (handler.ts on http.createServer, no nginx, no
# gateway), on a throwaway PostgreSQL seeded by seed-assignments.ts: the whole effective list,
# and one user's (what `openstack role assignment list --user U --effective` asks).
#   flock /tmp/bench.lock app/bench/role-assignments.sh [SECONDS]     (BENCH_USERS, BENCH_PROJECTS, BENCH_GROUPS)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
ac=node_modules/.bin/autocannon
state=$(mktemp -d /tmp/idn-bench-ra.XXXXXX)
chmod 755 "$state"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  scripts/pg.sh stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
eval "$(PG_FAST=1 scripts/pg.sh start "$state/pg")"
export DATABASE_URL IDENTITY_FERNET_KEY_REPOSITORY="$state/fernet" IDENTITY_CREDENTIAL_KEY_REPOSITORY="$state/credential"
export IDENTITY_ADMIN_PASSWORD=bench-admin-password IDENTITY_PASSWORD_HASH_ROUNDS=4 IDENTITY_PUBLIC_ENDPOINT=http://127.0.0.1
for step in migrate bootstrap fernet-setup credential-setup; do node app/dist/src/manage.js "$step" >/dev/null; done
user=$(node app/dist/bench/seed-assignments.js)
node app/dist/bench/serve.js >"$state/url" &
pid=$!
for _ in $(seq 50); do [ -s "$state/url" ] && break; sleep 0.1; done
url=$(cat "$state/url")
body=$(printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"%s"}}},"scope":{"system":{"all":true}}}}' "$IDENTITY_ADMIN_PASSWORD")
token=$(curl -s -i -H 'content-type: application/json' -d "$body" "$url/v3/auth/tokens?nocatalog" | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}')
[ -n "$token" ] || { echo "could not issue a token at $url" >&2; exit 1; }
all="$url/v3/role_assignments?effective"
one="$url/v3/role_assignments?effective&user.id=$user&include_names"
echo "dataset: BENCH_USERS=${BENCH_USERS:-200} BENCH_PROJECTS=${BENCH_PROJECTS:-20} BENCH_GROUPS=${BENCH_GROUPS:-5}; $(curl -s -H "X-Auth-Token: $token" "$all" | grep -o '"role":' | wc -l) effective assignments in all, $(curl -s -H "X-Auth-Token: $token" "$one" | grep -o '"role":' | wc -l) for one user"
# requests/s (mean over the run), p99 latency and non-2xx answers, from autocannon's JSON.
rate() {
  $ac -j -c 16 -d "$secs" -H "X-Auth-Token=$token" "$1" 2>/dev/null |
    node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(`${r.requests.average} req/s, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}`)'
}
echo "baseline, GET /v3/roles:                       $(rate "$url/v3/roles")"
echo "GET /v3/role_assignments?effective:             $(rate "$all")"
echo "  …&user.id=U&include_names (one user's):       $(rate "$one")"
