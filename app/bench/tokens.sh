#!/usr/bin/env bash
# App-level token benchmark (no nginx, no gateway): one process serving handler.ts, autocannon
# on 127.0.0.1. Scenarios: validation alone, issue alone (bcrypt at IDENTITY_PASSWORD_HASH_ROUNDS),
# and validation measured while issue saturates the hash pool. Needs DATABASE_URL of a bootstrapped
# database and IDENTITY_FERNET_KEY_REPOSITORY / IDENTITY_ADMIN_PASSWORD as for manage.js.
#   flock /tmp/bench.lock app/bench/tokens.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
ac=node_modules/.bin/autocannon
node app/dist/bench/serve.js >/tmp/idn-bench-url.$$ &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f /tmp/idn-bench-url.$$' EXIT
for _ in $(seq 50); do [ -s /tmp/idn-bench-url.$$ ] && break; sleep 0.1; done
url=$(cat /tmp/idn-bench-url.$$)
body=$(printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"%s"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' "$IDENTITY_ADMIN_PASSWORD")
token=$(curl -s -i -H 'content-type: application/json' -d "$body" "$url/v3/auth/tokens?nocatalog" | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}')
[ -n "$token" ] || { echo "could not issue a token at $url" >&2; exit 1; }
validate=(-H "X-Auth-Token=$token" -H "X-Subject-Token=$token" "$url/v3/auth/tokens?nocatalog")
issue=(-m POST -H 'content-type=application/json' -b "$body" "$url/v3/auth/tokens?nocatalog")
rps() { grep -oE '[0-9.]+k? requests in' | head -1; }
echo "validation alone:   $($ac -c 32 -d "$secs" "${validate[@]}" 2>&1 | grep -E 'requests in')"
echo "issue alone:        $($ac -c 8 -d "$secs" "${issue[@]}" 2>&1 | grep -E 'requests in')"
$ac -c 16 -d "$secs" "${issue[@]}" >/tmp/idn-bench-issue.$$ 2>&1 &
issuer=$!
sleep 0.5
echo "validation + issue: $($ac -c 32 -d $((secs - 1)) "${validate[@]}" 2>&1 | grep -E 'requests in')"
wait $issuer
echo "  (issue meanwhile: $(grep -E 'requests in' /tmp/idn-bench-issue.$$))"
rm -f /tmp/idn-bench-issue.$$
