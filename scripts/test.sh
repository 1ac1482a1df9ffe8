#!/usr/bin/env bash
# The one test command: installs what is missing, builds, lints and runs every test.
#
#   scripts/test.sh            everything
#   scripts/test.sh FILTER     only test files whose path contains FILTER (after build and lint);
#                              `scripts/test.sh compose` runs only the compose check
#
# Then scripts/tempest.sh runs Keystone's conformance suites (tempest's identity v3 API tests and
# keystone-tempest-plugin's API tests) against the native stack, with Keystone 22's default policies
# and again with secure RBAC; `scripts/test.sh tempest` runs only those. Last, scripts/compose-check.sh
# builds and runs the Docker Compose stack (it starts a Docker engine if none runs; without one it
# prints a SKIP line, or fails when CI=true), and scripts/swarm-check.sh deploys docker-stack.yml on a
# single-node swarm with the same images (`scripts/test.sh swarm` runs only that one, building its own).
#
# On a fresh Debian bookworm machine with Node 20 (as root) it installs nginx, PostgreSQL,
# libfcgi-bin (cgi-fcgi), python3-openstackclient, python3-tempest, keystone-tempest-plugin,
# python3-keystone (its default policies, which app/src/policy/keystone.ts is checked against),
# procps, openssl, testssl.sh, chromium and libatomic1 from Debian, and the npm packages with `npm ci`.
# scripts/image-node.sh then runs the gateway's protocol tests under the Node the image runs. Every
# server it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
filter="${1:-}"

log() { printf '[test] %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------------------------
packages=(nginx postgresql libfcgi-bin python3-openstackclient python3-tempest keystone-tempest-plugin
  python3-keystone python3-botocore python3-oslo.limit python3-pyotp python3-oauthlib
  gettext-base curl procps openssl testssl.sh chromium libatomic1)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing Debian packages (install them as root): ${missing[*]}"
    exit 1
  fi
fi

# --- npm, build, lint -----------------------------------------------------------------------
log "npm ci"
npm ci --no-audit --no-fund --loglevel=error
log "build"
npm run --silent build
log "lint"
npx biome check .
node scripts/import-cycles.mjs gateway/src app/src
# The compose file and the Dockerfiles. dclint's rules that are off (.dclintrc): gateway and migrate
# share one built image (build + image); the port's interface is GATEHOUSE_HTTP_BIND, which the
# linter cannot read; docker-compose 1.29 knows no top-level `name`; services and keys are in the
# order a request meets them, not alphabetical.
npx dclint docker-compose.yml docker-stack.yml
npx dockerfile-utils lint Dockerfile
npx dockerfile-utils lint nginx/Dockerfile
for dockerfile in scripts/standin/*.Dockerfile; do npx dockerfile-utils lint "$dockerfile"; done

# --- PostgreSQL for the tests ---------------------------------------------------------------
state=$(mktemp -d /tmp/gatehouse-test.XXXXXX)
chmod 755 "$state" # PostgreSQL runs as the postgres user when we are root
cleanup() {
  scripts/pg.sh stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT INT TERM
pg_env=$(scripts/pg.sh start "$state/pg") # a failure here stops the run (set -e)
eval "$pg_env"
export DATABASE_URL
log "PostgreSQL ready"

# --- tests ----------------------------------------------------------------------------------
mapfile -t files < <(find gateway/dist/test app/dist/test -name '*.test.js' 2>/dev/null | sort | grep -F -- "$filter" || true)
compose_check=0
case "compose-check" in *"$filter"*) compose_check=1 ;; esac
swarm_check=0
case "swarm-check" in *"$filter"*) swarm_check=1 ;; esac
tempest=0
case "tempest" in *"$filter"*) tempest=1 ;; esac
image_node=0
case "image-node" in *"$filter"*) image_node=1 ;; esac
if [ "${#files[@]}" -eq 0 ] && [ "$compose_check" = 0 ] && [ "$swarm_check" = 0 ] && [ "$tempest" = 0 ] &&
  [ "$image_node" = 0 ]; then
  log "no test files match '$filter'"
  exit 1
fi
if [ "${#files[@]}" -gt 0 ]; then
  log "running ${#files[@]} test files"
  # A test or suite that waits on an event that never comes fails after 20 minutes instead of
  # holding the run (the longest suite, the openstack client in every mode, takes 3-8).
  node --test --test-concurrency=1 --test-timeout=1200000 "${files[@]}"
fi

# --- the image's Node ------------------------------------------------------------------------
if [ "$image_node" = 1 ]; then
  log "the gateway's protocol tests under the image's Node (scripts/image-node.sh)"
  scripts/image-node.sh
fi

# --- Keystone's conformance suites ---------------------------------------------------------
if [ "$tempest" = 1 ]; then
  log "tempest (scripts/tempest.sh)"
  timeout --kill-after=30 900 scripts/tempest.sh
  log "tempest with secure RBAC (scripts/tempest.sh --secure-rbac)"
  timeout --kill-after=30 900 scripts/tempest.sh --secure-rbac
fi

# --- the Docker Compose stack ---------------------------------------------------------------
# The swarm check right after it builds nothing: compose-check keeps its images under one tag for it,
# and it removes them.
if [ "$compose_check" = 1 ] && [ "$swarm_check" = 1 ]; then
  export GATEHOUSE_CHECK_TAG="ci-$$" GATEHOUSE_KEEP_IMAGES=1
fi
if [ "$compose_check" = 1 ]; then
  log "compose check (scripts/compose-check.sh)"
  timeout --kill-after=30 1500 scripts/compose-check.sh
fi

# --- Docker Swarm -----------------------------------------------------------------------------
if [ "$swarm_check" = 1 ]; then
  log "swarm check (scripts/swarm-check.sh)"
  timeout --kill-after=30 1200 scripts/swarm-check.sh
fi
