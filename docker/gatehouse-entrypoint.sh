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
# GATEHOUSE_WAIT_FOR_SCHEMA=SECONDS: wait (at most that long) until this role can connect and the
# schema is current, i.e. the one-shot setup is done: an orchestrator without start-up ordering
# (Docker Swarm, docker-stack.yml) starts the gateway alongside the setup job.
if [ "${GATEHOUSE_WAIT_FOR_SCHEMA:-0}" != 0 ]; then
  node /srv/gatehouse/app/dist/src/manage.js schema-ready --wait "$GATEHOUSE_WAIT_FOR_SCHEMA" ||
    { echo "gatehouse-entrypoint: gave up waiting for the setup" >&2; exit 1; }
fi
unset GATEHOUSE_WAIT_FOR_SCHEMA
exec "$@"
