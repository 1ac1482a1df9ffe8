#!/bin/sh
# Entry point of the gateway image. PostgreSQL's password may come from a file
# (POSTGRES_PASSWORD_FILE, as the postgres image reads it, or PGPASSWORD_FILE): it becomes
# PGPASSWORD for the app.
# IDENTITY_ADMIN_PASSWORD_FILE and DATABASE_URL_FILE are read by the app itself.
set -eu
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  if [ ! -r "$POSTGRES_PASSWORD_FILE" ]; then
    echo "gatehouse-entrypoint: POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE: expected a readable file" >&2
    exit 1
  fi
  PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
  export PGPASSWORD
fi
unset POSTGRES_PASSWORD_FILE
# The app role's password (the gateway): the file the one-shot setup generated.
if [ -n "${PGPASSWORD_FILE:-}" ]; then
  if [ ! -r "$PGPASSWORD_FILE" ]; then
    echo "gatehouse-entrypoint: PGPASSWORD_FILE=$PGPASSWORD_FILE: expected a readable file" >&2
    exit 1
  fi
  PGPASSWORD=$(cat "$PGPASSWORD_FILE")
  export PGPASSWORD
fi
unset PGPASSWORD_FILE
exec "$@"
