#!/bin/sh
# The one-shot setup the gateway waits for (the compose file's migrate service): schema
# migrations, the bootstrap admin, project, roles and endpoints, and the Fernet and credential key
# repositories when they hold no keys. Every step is idempotent, so it runs on every `up`.
#
# With neither IDENTITY_ADMIN_PASSWORD nor IDENTITY_ADMIN_PASSWORD_FILE set, a password is generated
# once and kept in /var/lib/gatehouse/admin-password (a named volume), and printed when generated.
set -eu
say() { printf '[gatehouse-setup] %s\n' "$*"; }
manage() { node /srv/gatehouse/app/dist/src/manage.js "$@"; }

if [ -z "${IDENTITY_ADMIN_PASSWORD:-}" ] && [ -z "${IDENTITY_ADMIN_PASSWORD_FILE:-}" ]; then
  stored=/var/lib/gatehouse/admin-password
  if [ ! -s "$stored" ]; then
    umask 077
    node -e "process.stdout.write(require('node:crypto').randomBytes(18).toString('base64url'))" >"$stored.tmp"
    mv "$stored.tmp" "$stored"
    say "generated the admin password: $(cat "$stored") (kept in $stored; set IDENTITY_ADMIN_PASSWORD to choose one)"
  fi
  IDENTITY_ADMIN_PASSWORD_FILE=$stored
  export IDENTITY_ADMIN_PASSWORD_FILE
fi

say "migrate: $(manage migrate)"
public_url=${IDENTITY_PUBLIC_ENDPOINT:-http://localhost:${GATEHOUSE_HTTP_PORT:-8080}}
say "bootstrap: $(manage bootstrap --bootstrap-public-url "$public_url")"
say "fernet-setup: $(manage fernet-setup)"
say "credential-setup: $(manage credential-setup)"
