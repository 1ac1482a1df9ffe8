// A bounded load through nginx while a command changes the stack under it (scripts/swarm-check.sh).
//   node scripts/swarm-load.mjs URL CONNECTIONS RATE TAIL_SECONDS HEADERS_JSON -- COMMAND [ARGS…]
// RATE requests a second in all, over CONNECTIONS connections: a steady load that leaves the machine
// room (a load at full speed starves the stack's own healthchecks on a small machine, and Swarm
// replaces a task whose healthcheck times out).
// The load starts, COMMAND runs (a rolling update, a replica killed, PostgreSQL restarted), and the
// load goes on TAIL_SECONDS after it has ended. Prints one JSON line: requests by outcome (2xx, 503,
// other statuses, errors: a connection reset or refused, a timeout), when the first and the last
// request that was not a 2xx ended and when the first 2xx after them came (ms from COMMAND's start),
// and COMMAND's exit code and duration. Exits 1 when COMMAND failed or nothing was answered.
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';

const at = process.argv.indexOf('--');
const [url, connections, rate, tail, headers] = process.argv.slice(2, at);
const command = process.argv.slice(at + 1);
if (at === -1 || !url || !connections || !rate || !tail || !headers || command.length === 0) {
  process.stderr.write(
    'usage: swarm-load.mjs URL CONNECTIONS RATE TAIL_SECONDS HEADERS_JSON -- COMMAND [ARGS…]\n',
  );
  process.exit(2);
}
const counts = { ok: 0, unavailable: 0, other: 0, errors: 0 };
const statuses = {};
let started = 0;
let firstBad = null;
let lastBad = null;
let recovered = null;
// Each request that was not a 2xx: when it ended (ms from COMMAND's start), how long it took, what it
// got; the first ones, to lay beside the stack's own events (scripts/swarm-check.sh's timeline).
const failures = [];
const bad = (what, latencyMs) => {
  const now = Date.now() - started;
  if (failures.length < 40) failures.push({ endMs: now, latencyMs, what });
  firstBad ??= now;
  lastBad = now;
  recovered = null;
};
const run = autocannon({
  url,
  connections: Number(connections),
  overallRate: Number(rate),
  duration: 900,
  timeout: 20,
  headers: JSON.parse(headers),
});
run.on('response', (_client, status, _bytes, latencyMs) => {
  statuses[status] = (statuses[status] ?? 0) + 1;
  if (status >= 200 && status < 300) {
    counts.ok++;
    if (lastBad !== null && recovered === null) recovered = Date.now() - started;
  } else {
    if (status === 503) counts.unavailable++;
    else counts.other++;
    bad(status, Math.round(latencyMs));
  }
});
run.on('reqError', (err) => {
  counts.errors++;
  bad(err?.code ?? err?.message ?? 'error', null);
});
// A moment of load before the change, so that it happens under load.
await new Promise((r) => setTimeout(r, 1000));
started = Date.now();
const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
const commandMs = Date.now() - started;
await new Promise((r) => setTimeout(r, Number(tail) * 1000));
run.stop();
const result = await run;
const report = {
  requests: counts.ok + counts.unavailable + counts.other + counts.errors,
  ok: counts.ok,
  unavailable: counts.unavailable,
  other: counts.other,
  errors: counts.errors,
  timeouts: result.timeouts,
  statuses,
  firstBadMs: firstBad,
  lastBadMs: lastBad,
  recoveredMs: recovered,
  commandMs,
  commandExit: code,
  startedAt: started,
  failures,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(code !== 0 || counts.ok === 0 ? 1 : 0);
