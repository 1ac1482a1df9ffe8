# shellcheck shell=bash
# Sourced by scripts/compose-check.sh and scripts/swarm-check.sh: what both do around their own steps,
# the Docker engine (used, or started and stopped again) and the stand-in base images (node, nginx,
# postgres) built from a debootstrapped Debian bookworm (scripts/standin/), so no image is pulled.
#
# The caller calls begin_check first, sets tag (the stand-in images' tag), defines fail MESSAGE
# (which exits) with what it wants shown on a failure, and ends its cleanup with finish_check.

standin="gatehouse-standin"
# Set only when start_docker_engine started the engine: finish_check stops that one alone.
engine_pid=""

# begin_check NAME BUDGET: lines are prefixed [NAME-check], the check must be done within BUDGET
# seconds, work is its scratch directory and cache where the debootstrap root filesystem is kept.
begin_check() {
  check=$1
  budget=$2
  started_at=$SECONDS
  cache=${GATEHOUSE_CACHE_DIR:-/var/cache/gatehouse}
  work=$(mktemp -d "/tmp/gatehouse-$check-check.XXXXXX")
  chmod 755 "$work"
}

say() { printf '[%s-check] %s (%ss)\n' "$check" "$*" "$((SECONDS - started_at))" >&2; }
skip() {
  if [ "${CI:-}" = true ]; then fail "no Docker engine: $* (CI=true: the $check check must run)"; fi
  printf '[%s-check] SKIP: no Docker engine (%s); the %s stack was not checked\n' "$check" "$*" "$check" >&2
  exit 0
}
left() { echo $((budget - (SECONDS - started_at))); }
in_time() { [ "$(left)" -gt 0 ] || fail "over the ${budget}s budget"; }
# shellcheck source=free-port.sh
. "$(dirname "${BASH_SOURCE[0]}")/free-port.sh"

need_packages() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || return 1
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
}

# Uses the running Docker engine, or starts one (root only; skip when it cannot), and makes sure of
# docker-compose, debootstrap and curl.
start_docker_engine() {
  if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || skip "none is running, and starting one needs root"
    if ! command -v dockerd >/dev/null; then
      need_packages docker.io || skip "dockerd is not installed and could not be installed"
    fi
    say "starting a Docker engine"
    # In a session of its own: a stop signal to the check's process group (timeout(1) sends one)
    # must leave the engine up until the check's cleanup has removed what it made.
    setsid dockerd --host unix:///var/run/docker.sock >"$work/dockerd.log" 2>&1 &
    engine_pid=$!
    for _ in $(seq 1 150); do
      docker info >/dev/null 2>&1 && break
      kill -0 "$engine_pid" 2>/dev/null || break
      sleep 0.2
    done
    if ! docker info >/dev/null 2>&1; then
      tail -n 5 "$work/dockerd.log" | sed "s/^/[$check-check]   /" >&2
      engine_pid=""
      skip "dockerd did not start"
    fi
  fi
  need_packages docker-compose debootstrap curl || fail "docker-compose, debootstrap and curl are needed"
}

# finish_check CODE, the end of the cleanup: stops the engine if start_docker_engine started it,
# removes the scratch directory and exits with CODE.
finish_check() {
  if [ -n "$engine_pid" ]; then
    say "stopping the Docker engine it started (pid $engine_pid)"
    kill -TERM "$engine_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$engine_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$work"
  exit "$1"
}

# Builds the three stand-in images as $standin/{node,nginx,postgres}:$tag.
# shellcheck disable=SC2154 # tag is the caller's
build_standin_images() {
  # One root filesystem carries what the three stand-ins need; it is cached under a key made of the
  # package list, and checked against its recorded checksum before use.
  local packages="ca-certificates,curl,gettext-base,gosu,nginx,openssl,postgresql-15,procps"
  local key rootfs base target ctx node_prefix image
  key=$(printf 'bookworm minbase %s 1' "$packages" | sha256sum | cut -c1-16)
  rootfs="$cache/bookworm-$key.tar"
  base="$standin/bookworm:$key"
  if docker image inspect "$base" >/dev/null 2>&1; then
    say "stand-in root filesystem: imported before ($base)"
  else
    if [ -f "$rootfs" ] && [ -f "$rootfs.sha256" ] && (cd "$cache" && sha256sum -c --status "$rootfs.sha256"); then
      say "debootstrap root filesystem: cached ($rootfs)"
    else
      mkdir -p "$cache/debs"
      say "debootstrap bookworm ($packages)"
      rm -f "$rootfs" "$rootfs.sha256"
      target="$work/rootfs"
      debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$packages" bookworm "$target" \
        http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
        { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
      rm -rf "$target"/var/cache/apt/archives/*.deb "$target"/var/lib/apt/lists/* "$target"/usr/share/doc/* \
        "$target"/usr/share/man/* "$target"/usr/share/locale/*
      tar -C "$target" --numeric-owner -cf "$rootfs.tmp" .
      mv "$rootfs.tmp" "$rootfs"
      (cd "$cache" && sha256sum "$(basename "$rootfs")" >"$rootfs.sha256")
      rm -rf "$target"
    fi
    # Imported once from the checked archive, the image is the cache's other half: it is kept.
    docker import "$rootfs" "$base" >/dev/null
  fi
  in_time

  # One build context per stand-in, so that only the node image is sent the Node installation.
  ctx="$work/standin"
  mkdir -p "$ctx/node/node/bin" "$ctx/node/node/lib/node_modules" "$ctx/nginx" "$ctx/postgres"
  cp scripts/standin/node.Dockerfile "$ctx/node/"
  cp scripts/standin/nginx.Dockerfile scripts/standin/nginx-entrypoint.sh scripts/standin/20-envsubst-on-templates.sh "$ctx/nginx/"
  cp scripts/standin/postgres.Dockerfile scripts/standin/postgres-entrypoint.sh "$ctx/postgres/"
  # The host's Node installation (Debian bookworm's nodejs is v18, too old): binary and npm.
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  cp "$node_prefix/bin/node" "$ctx/node/node/bin/node"
  cp -r "$node_prefix/lib/node_modules/npm" "$ctx/node/node/lib/node_modules/npm"
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$ctx/node/extra-ca.pem"
  else
    : >"$ctx/node/extra-ca.pem"
  fi
  for image in node nginx postgres; do
    say "building the stand-in $image image"
    docker build -q --force-rm --build-arg BASE_IMAGE="$base" -t "$standin/$image:$tag" -f "$ctx/$image/$image.Dockerfile" \
      "$ctx/$image" >"$work/standin-$image.log" 2>&1 || { cat "$work/standin-$image.log" >&2; fail "stand-in $image image"; }
  done
  in_time
}

# For the cleanup: removes the stand-in images of $tag and the build stages' images (deps,
# prod-deps, build), which the build leaves untagged.
remove_standin_images() {
  local image
  for image in "$standin/node:$tag" "$standin/nginx:$tag" "$standin/postgres:$tag"; do
    docker image rm -f "$image" >/dev/null 2>&1
  done
  docker image prune -f --filter "label=org.gatehouse.build-stage" >/dev/null 2>&1
}

# What the stack files are given: only the variables set after this reach them (the caller's
# DATABASE_URL, GATEWAY_* and the like, scripts/test.sh exports its own DATABASE_URL, would otherwise
# be interpolated into them), and the stand-in images as their base images.
stack_environment() {
  local name
  for name in $(grep -ho '\${[A-Z][A-Z0-9_]*' "$@" | cut -c3- | sort -u); do unset "$name"; done
  export NODE_IMAGE="$standin/node:$tag" NGINX_IMAGE="$standin/nginx:$tag" POSTGRES_IMAGE="$standin/postgres:$tag"
}
