#!/usr/bin/env bash
# The EC2 token path against a password login, in one run, through nginx and the gateway
# (scripts/stack.sh, fastcgi): POST /v3/ec2tokens with a request botocore signed (SigV4, replayed
# within the 15 minutes Keystone allows), by an admin token as a service would, and POST
# /v3/auth/tokens with the admin's password (bcrypt at the stack's IDENTITY_PASSWORD_HASH_ROUNDS).
# autocannon on 127.0.0.1; requests/s and latency percentiles of each.
#   flock /tmp/bench.lock app/bench/ec2tokens.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-16}
state=$(mktemp -d /tmp/ec2-bench.XXXXXX)
chmod 755 "$state"
export GATEHOUSE_STACK_DIR=$state/stack
trap 'scripts/stack.sh stop >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
out=$(scripts/stack.sh start --protocol fastcgi)
url=$(sed -n 's/^GATEHOUSE_URL=//p' <<<"$out")
url=${url%/}
eval "$(grep '^export OS_' <<<"$out")"
cred=$(openstack ec2 credentials create -f json)
access=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])' <<<"$cred")
secret=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <<<"$cred")
token=$(openstack token issue -f value -c id)
/usr/bin/python3 app/test/aws-sign.py ec2-v4 "$access" "$secret" >"$state/ec2.json"
printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"%s","domain":{"name":"Default"},"password":"%s"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}' \
  "$OS_USERNAME" "$OS_PASSWORD" >"$state/password.json"
ac=node_modules/.bin/autocannon
run() { # NAME ARGS…: one line of figures from autocannon's JSON
  local name=$1; shift
  "$ac" -j -c "$conns" -d "$secs" "$@" 2>/dev/null | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const s = r.statusCodeStats ?? {};
    console.log(`${process.argv[1].padEnd(22)} ${r.requests.average.toFixed(1).padStart(8)} req/s  p50 ${r.latency.p50} ms  p90 ${r.latency.p90} ms  p99 ${r.latency.p99} ms  statuses ${JSON.stringify(Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.count])))}`);
  ' "$name"
}
echo "$secs s, $conns connections, through nginx (fastcgi), $(nproc) cores"
run 'POST /v3/ec2tokens' -m POST -H 'content-type=application/json' -H "x-auth-token=$token" \
  -i "$state/ec2.json" "$url/v3/ec2tokens"
run 'POST /v3/auth/tokens' -m POST -H 'content-type=application/json' -i "$state/password.json" \
  "$url/v3/auth/tokens"
