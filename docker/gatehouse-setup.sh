#!/bin/sh
# The one-shot setup the gateway waits for (the compose file's migrate service): schema
# migrations, the bootstrap admin, project, roles and endpoints, and the Fernet and credential key
# repositories when they hold no keys. Every step is idempotent, so it runs on every `up`.
#
# With neither IDENTITY_ADMIN_PASSWORD nor IDENTITY_ADMIN_PASSWORD_FILE set, a password is generated
# once and kept in $GATEHOUSE_STATE_DIR/admin-password (default /var/lib/gatehouse, a named
# volume), and printed when generated. GATEHOUSE_ROOT (default /srv/gatehouse) holds the build.
set -eu
say() { printf '[gatehouse-setup] %s\n' "$*"; }
root=${GATEHOUSE_ROOT:-/srv/gatehouse}
manage() { node "$root/app/dist/src/manage.js" "$@"; }

if [ -z "${IDENTITY_ADMIN_PASSWORD:-}" ] && [ -z "${IDENTITY_ADMIN_PASSWORD_FILE:-}" ]; then
  stored=${GATEHOUSE_STATE_DIR:-/var/lib/gatehouse}/admin-password
  if [ ! -s "$stored" ]; then
    umask 077
    node -e "process.stdout.write(require('node:crypto').randomBytes(18).toString('base64url'))" >"$stored.tmp"
    mv "$stored.tmp" "$stored"
    say "generated the admin password: $(cat "$stored") (kept in $stored; set IDENTITY_ADMIN_PASSWORD to choose one)"
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
