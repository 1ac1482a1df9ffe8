# Stand-in for the official postgres image (Debian's PostgreSQL 15), built by
# scripts/compose-check.sh. It keeps the parts of that image's contract the stack relies on:
# docker-entrypoint.sh initialising PGDATA on first start from POSTGRES_USER, POSTGRES_PASSWORD
# (or POSTGRES_PASSWORD_FILE) and POSTGRES_DB, running /docker-entrypoint-initdb.d/*.sql|*.sh once,
# password authentication from other hosts, the server as the postgres user, pg_isready on PATH,
# SIGINT to stop.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
RUN rm -rf /var/lib/postgresql/15 /etc/postgresql/15 \
    && mkdir -p /docker-entrypoint-initdb.d "$PGDATA" /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 700 "$PGDATA"
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 5432
STOPSIGNAL SIGINT
CMD ["postgres"]
