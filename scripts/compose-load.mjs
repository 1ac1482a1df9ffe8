// A short bounded load through nginx while one gateway replica is stopped (scripts/compose-check.sh).
//   node scripts/compose-load.mjs URL SECONDS CONNECTIONS STOP_AFTER_SECONDS CONTAINER
// Prints one JSON line: requests, failures, and failures once `docker stop` has returned (the replica
// is gone). Exits 1 when any request failed after that, or when nothing was sent.
import { execFile } from 'node:child_process';
import autocannon from 'autocannon';

const [url, seconds, connections, stopAfter, container] = process.argv.slice(2);
if (!url || !seconds || !connections || !stopAfter || !container) {
  process.stderr.write('usage: compose-load.mjs URL SECONDS CONNECTIONS STOP_AFTER_SECONDS CONTAINER\n');
  process.exit(2);
}
const start = Date.now();
let goneAt = null;
let failed = 0;
let failedAfterGone = 0;
const failure = () => {
  failed++;
  if (goneAt !== null) failedAfterGone++;
};
const run = autocannon({ url, connections: Number(connections), duration: Number(seconds), timeout: 10 });
run.on('response', (_client, status) => {
  if (status < 200 || status >= 300) failure();
});
run.on('reqError', failure);
setTimeout(() => {
  execFile('docker', ['stop', container], (err) => {
    if (err) process.stderr.write(`docker stop ${container}: ${err.message}\n`);
    goneAt = Date.now();
  });
}, Number(stopAfter) * 1000);
const result = await run;
const report = {
  requests: result.requests.total,
  failed: failed + result.timeouts,
  failedAfterGone,
  stoppedAfterMs: Number(stopAfter) * 1000,
  goneAfterMs: goneAt === null ? null : goneAt - start,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(goneAt === null || failedAfterGone > 0 || report.requests === 0 ? 1 : 0);
