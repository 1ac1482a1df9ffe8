#!/usr/bin/env bash
# The protocol fuzz campaign (gateway/test/fuzz.test.ts) for longer than the test suite runs it:
# random and mutated FastCGI, uwsgi and HTTP input at the gateway port and mutated HTTP through
# nginx, valid requests interleaved, against the real gateway and nginx on 127.0.0.1.
#
#   scripts/fuzz.sh [SECONDS_PER_PROTOCOL] [SEED]     default 60 s and a seed from the clock
#
# The seed is printed first; the same seed replays the same inputs (their timing aside). Needs
# `npm run build` first; exits non-zero when the gateway crashed, logged an uncoded error, held a
# connection past its timeouts, failed a valid request or grew its memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
seed=${2:-$(( $(date +%s) % 100000 ))}
[ -f "$root/gateway/dist/test/fuzz.test.js" ] || { echo "fuzz.sh: run npm run build first" >&2; exit 1; }
echo "fuzz: FUZZ_SEED=$seed, $seconds s per protocol"
cd "$root"
FUZZ_SEED=$seed FUZZ_SECONDS=$seconds exec node --test --test-concurrency=1 --test-timeout=$(( (seconds + 120) * 3000 )) \
  gateway/dist/test/fuzz.test.js
