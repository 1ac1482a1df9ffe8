#!/usr/bin/env bash
# Keystone's conformance suites against the native stack: tempest's identity API tests (v3; v2 is
# not served) and keystone-tempest-plugin's API tests, as Keystone's own gate runs them.
#
#   scripts/tempest.sh [--protocol fastcgi|uwsgi|http|cgi] [--secure-rbac] [--regex REGEX] [--keep]
#
# Starts the stack (scripts/stack.sh, state in the workspace) with the security-compliance options
# tempest's tests expect, writes tempest.conf for it (scripts/tempest/conf.sh), runs the suites with
# concurrency 2 and compares the outcome with scripts/tempest/known-failures.txt: the run fails on a
# test that fails or is skipped and is not listed, and on a listed test that now passes (the list
# only shrinks). --regex runs a subset (then listed tests outside it are not checked).
# --secure-rbac runs the stack with scope enforcement and the new defaults on and tempest with
# `[enforce_scope] keystone = true`, as Keystone's secure-RBAC gate does; the tests allowed to fail
# are then those of both lists, known-failures.txt and known-failures-secure-rbac.txt.
# tempest's workspace lives outside the checkout (TEMPEST_WORKSPACE, default a temporary folder,
# removed at the end unless --keep). Needs python3-tempest and keystone-tempest-plugin (Debian).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
protocol=fastcgi regex="" keep=0 secure=0
while [ $# -gt 0 ]; do
  case "$1" in
    --protocol) protocol=$2; shift 2 ;;
    --regex) regex=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --secure-rbac) secure=1; shift ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
done
say() { printf '[tempest] %s\n' "$*" >&2; }
command -v tempest >/dev/null || { say "tempest is not installed (apt-get install python3-tempest keystone-tempest-plugin)"; exit 1; }

ws=${TEMPEST_WORKSPACE:-$(mktemp -d /tmp/gatehouse-tempest.XXXXXX)}
mkdir -p "$ws"
chmod 755 "$ws"
export GATEHOUSE_STACK_DIR="$ws/stack"
finish() {
  "$root/scripts/stack.sh" stop >/dev/null 2>&1 || true
  if [ "$keep" = 0 ] && [ -z "${TEMPEST_WORKSPACE:-}" ]; then rm -rf "$ws"; else say "workspace kept in $ws"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# The options tempest's security-compliance tests are written for (devstack's settings): two
# failures lock an account for five seconds, the last two passwords cannot be reused, a password
# can be changed again at once. Fewer bcrypt rounds only make its hundreds of logins cheaper.
export IDENTITY_LOCKOUT_FAILURE_ATTEMPTS=2 IDENTITY_LOCKOUT_DURATION=5 \
  IDENTITY_UNIQUE_LAST_PASSWORD_COUNT=2 IDENTITY_MINIMUM_PASSWORD_AGE=0 \
  IDENTITY_PASSWORD_HASH_ROUNDS="${IDENTITY_PASSWORD_HASH_ROUNDS:-4}" \
  NGINX_AUTH_RATE="${NGINX_AUTH_RATE:-1000r/s}"
known="$root/scripts/tempest/known-failures.txt"
if [ "$secure" = 1 ]; then
  export IDENTITY_POLICY_ENFORCE_SCOPE=true IDENTITY_POLICY_ENFORCE_NEW_DEFAULTS=true TEMPEST_ENFORCE_SCOPE=true
  known="$ws/known-failures.txt"
  cat "$root/scripts/tempest/known-failures.txt" "$root/scripts/tempest/known-failures-secure-rbac.txt" >"$known"
fi
say "starting the stack ($protocol$([ "$secure" = 1 ] && echo ', secure RBAC'))"
stack_env=$("$root/scripts/stack.sh" start --protocol "$protocol")
url=$(sed -n 's/^GATEHOUSE_URL=//p' <<<"$stack_env")
password=$(sed -n 's/^export OS_PASSWORD=//p' <<<"$stack_env")

cd "$ws"
tempest init --name "gatehouse-$$" --workspace-path "$ws/workspace.yaml" "$ws/tempest" >/dev/null
"$root/scripts/tempest/conf.sh" "$url" "$password" >"$ws/tempest/etc/tempest.conf"
cd "$ws/tempest"
selection=${regex:-'^(tempest\.api\.identity\.|keystone_tempest_plugin\.tests\.api\.)'}
say "running $selection (concurrency 2)"
set +e
tempest run --config-file "$ws/tempest/etc/tempest.conf" --regex "$selection" --exclude-regex '\.v2\.' \
  --concurrency 2 >"$ws/run.log" 2>&1
set -e
stestr last --subunit >"$ws/results.subunit" 2>/dev/null || true
partial=0
[ -n "$regex" ] && partial=1
/usr/bin/python3 "$root/scripts/tempest/verdict.py" "$ws/results.subunit" "$known" "$partial" ||
  { say "the run's log: $ws/run.log (last lines below)"; tail -n 40 "$ws/run.log" >&2; keep=1; exit 1; }
