# Stand-in for the official node image, built by scripts/compose-check.sh from a debootstrapped
# Debian bookworm where no registry image can be pulled. It keeps the parts of that image's
# contract the stack relies on: node, npm and npx on PATH in /usr/local, a `node` user (uid 1000).
#
# Debian bookworm's nodejs is v18, too old for Gatehouse (Node >= 20.10), so compose-check.sh copies
# the host's own Node installation (the node binary and npm) into the build context; the real
# official image carries the current LTS.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY node/bin/node /usr/local/bin/node
COPY node/lib/node_modules/npm /usr/local/lib/node_modules/npm
# The host's extra certificate authorities (NODE_EXTRA_CA_CERTS), for npm behind a TLS-intercepting
# proxy; an empty file when the host has none.
COPY extra-ca.pem /usr/local/share/gatehouse/extra-ca.pem
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && groupadd --gid 1000 node \
    && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
    && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/gatehouse/extra-ca.pem
CMD ["node"]
