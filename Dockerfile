# The gateway image: the gateway and the identity app, run as `gateway` (the default command) or as
# the one-shot `gatehouse-setup` (the compose file's migrate service). Built by `docker compose
# build` with this directory as the context; works with the classic builder and BuildKit alike.
#
#   NODE_IMAGE        base image (a mirror's copy of the official Node LTS image, for example)
#   EXTRA_CA_CERTS    PEM text of extra certificate authorities for npm during the build, for
#                     builds behind a TLS-intercepting proxy; not kept in the runtime image
ARG NODE_IMAGE=node:26.13.0-bookworm-slim

# --- deps: every package, for the build ---------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
# Marks the build stages' images, so that a clean-up can find them (scripts/compose-check.sh).
LABEL org.gatehouse.build-stage=true
ARG EXTRA_CA_CERTS=""
WORKDIR /src
COPY package.json package-lock.json ./
COPY gateway/package.json gateway/package.json
COPY app/package.json app/package.json
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" >/tmp/extra-ca.pem \
      && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
    && npm ci --no-audit --no-fund --loglevel=error \
    && rm -f /tmp/extra-ca.pem

# --- prod-deps: production dependencies only, for the runtime ------------------------------------
FROM deps AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

# --- build: the TypeScript sources ----------------------------------------------------------------
FROM deps AS build
COPY tsconfig.base.json ./
COPY gateway gateway
COPY app app
RUN npx tsc -p gateway/tsconfig.build.json && npx tsc -p app/tsconfig.build.json

# --- runtime --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GATEWAY_LISTEN=0.0.0.0:9000 \
    IDENTITY_FERNET_KEY_REPOSITORY=/etc/gatehouse/fernet-keys \
    IDENTITY_CREDENTIAL_KEY_REPOSITORY=/etc/gatehouse/credential-keys \
    IDENTITY_RECEIPT_KEY_REPOSITORY=/etc/gatehouse/receipt-keys
WORKDIR /srv/gatehouse
COPY --from=prod-deps /src/node_modules node_modules
COPY package.json ./
COPY gateway/package.json gateway/package.json
COPY app/package.json app/package.json
COPY db/migrations db/migrations
COPY --from=build /src/gateway/dist/src gateway/dist/src
COPY --from=build /src/app/dist/src app/dist/src
COPY docker/gatehouse-entrypoint.sh /usr/local/bin/gatehouse-entrypoint
COPY docker/gatehouse-setup.sh /usr/local/bin/gatehouse-setup
# Directories the named volumes are mounted on take this ownership when they are first created.
RUN chmod 755 /usr/local/bin/gatehouse-entrypoint /usr/local/bin/gatehouse-setup \
    && mkdir -p /etc/gatehouse/fernet-keys /etc/gatehouse/credential-keys /etc/gatehouse/receipt-keys /var/lib/gatehouse /var/lib/gatehouse-db /run/gatehouse \
    && chown node:node /etc/gatehouse/fernet-keys /etc/gatehouse/credential-keys /etc/gatehouse/receipt-keys /var/lib/gatehouse /var/lib/gatehouse-db /run/gatehouse \
    && chmod 700 /etc/gatehouse/fernet-keys /etc/gatehouse/credential-keys /etc/gatehouse/receipt-keys /var/lib/gatehouse /var/lib/gatehouse-db \
    && ln -s /srv/gatehouse/gateway/dist/src/bin/healthcheck.js /usr/local/bin/gatehouse-healthcheck \
    && ln -s /srv/gatehouse/app/dist/src/manage.js /usr/local/bin/gatehouse-manage \
    && chmod 755 gateway/dist/src/bin/healthcheck.js app/dist/src/manage.js
USER node
EXPOSE 9000
# SIGTERM drains in-flight requests within GATEWAY_GRACEFUL_TIMEOUT; give the stop at least that.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["gatehouse-healthcheck", "--timeout", "5"]
ENTRYPOINT ["gatehouse-entrypoint"]
CMD ["node", "gateway/dist/src/bin/gateway.js"]
