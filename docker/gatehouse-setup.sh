#!/bin/sh
# The one-shot setup the gateway waits for (the compose file's migrate service): schema
# migrations, the app's database role, the bootstrap admin, project, roles and endpoints, and the
# Fernet and credential key repositories when they hold no keys. Every step is idempotent, so it
# runs on every `up`. It connects as the role that owns the schema; the gateway never does.
#
# With neither IDENTITY_ADMIN_PASSWORD nor IDENTITY_ADMIN_PASSWORD_FILE set, a password is generated
# once and kept in $GATEHOUSE_STATE_DIR/admin-password (default /var/lib/gatehouse, a named volume
# only this service mounts). It is never written to the log: `gatehouse-setup --print-admin-password`
# prints it, on request
# (docker compose run --rm --no-deps migrate gatehouse-setup --print-admin-password).
#
# With POSTGRES_APP_USER set (the compose file: gatehouse_app), `manage app-role` makes that role
# (rows only, no DDL) with a password generated once in $GATEHOUSE_DB_DIR/password (default
# /var/lib/gatehouse-db, a volume the gateway mounts read-only; its PGPASSWORD_FILE names it), or
# with the password in POSTGRES_APP_PASSWORD_FILE (docker-stack.yml: a Swarm secret).
# GATEHOUSE_ROOT (default /srv/gatehouse) holds the build.
set -eu
say() { printf '[gatehouse-setup] %s\n' "$*"; }
root=${GATEHOUSE_ROOT:-/srv/gatehouse}
state=${GATEHOUSE_STATE_DIR:-/var/lib/gatehouse}
manage() { node "$root/app/dist/src/manage.js" "$@"; }
# 144 random bits, base64url; never beginning with '-', which a command line would take for an
# option (`openstack --os-password -x…`).
generate() {
  node -e "let p; do p = require('node:crypto').randomBytes(18).toString('base64url'); while (p[0] === '-'); process.stdout.write(p)"
}

if [ "${1:-}" = --print-admin-password ]; then
  if [ ! -s "$state/admin-password" ]; then
    echo "gatehouse-setup: no generated admin password in $state (IDENTITY_ADMIN_PASSWORD or _FILE chose one)" >&2
    exit 1
  fi
  cat "$state/admin-password"
  echo
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: gatehouse-setup [--print-admin-password]" >&2; exit 2; }

if [ -z "${IDENTITY_ADMIN_PASSWORD:-}" ] && [ -z "${IDENTITY_ADMIN_PASSWORD_FILE:-}" ]; then
  stored=$state/admin-password
  if [ ! -s "$stored" ]; then
    (umask 077 && generate >"$stored.tmp")
    mv "$stored.tmp" "$stored"
    say "generated the admin password, kept in $stored; print it with: gatehouse-setup --print-admin-password (set IDENTITY_ADMIN_PASSWORD to choose one)"
  fi
  IDENTITY_ADMIN_PASSWORD_FILE=$stored
  export IDENTITY_ADMIN_PASSWORD_FILE
fi

# One step: its output on one line; a failing step stops the setup (and the gateway stays down).
step() {
  out=$(manage "$@") || { say "$1 failed"; exit 1; }
  say "$1: $out"
}
step migrate
step bootstrap --bootstrap-public-url "${IDENTITY_PUBLIC_ENDPOINT:-https://localhost:${GATEHOUSE_HTTPS_PORT:-8443}}"
step fernet-setup
step credential-setup
step receipt-setup
# Last: on a first start the app's role cannot log in before everything above is done, so a
# gateway waiting for the schema (GATEHOUSE_WAIT_FOR_SCHEMA) waits for the whole setup.
if [ -n "${POSTGRES_APP_USER:-}" ]; then
  if [ -n "${POSTGRES_APP_PASSWORD_FILE:-}" ]; then
    # Chosen by the operator (a Swarm secret the gateways read too).
    app_password=$POSTGRES_APP_PASSWORD_FILE
  else
    db_dir=${GATEHOUSE_DB_DIR:-/var/lib/gatehouse-db}
    app_password=$db_dir/password
    if [ ! -s "$app_password" ]; then
      (umask 077 && generate >"$app_password.tmp")
      mv "$app_password.tmp" "$app_password"
    fi
  fi
  step app-role "$POSTGRES_APP_USER" --password-file "$app_password"
fi
