// What the stack did while scripts/swarm-load.mjs measured it, on one time line (scripts/swarm-check.sh
// prints it when a figure is out of bounds).
//   node scripts/swarm-timeline.mjs STACK STARTED_AT_MS LOAD_REPORT_JSON
// Merges, in ms from STARTED_AT_MS (when the load's command began): the containers' events (start,
// healthy, kill, die…), which task had which address, nginx's lines that were not a quick 2xx (its
// access log names the upstream address each request went to; its error log; its upstream watcher's
// reloads), the gateways' lines about starting and stopping, and the load's failed requests.
import { execFileSync } from 'node:child_process';

const [stack, startedArg, reportArg] = process.argv.slice(2);
if (!stack || !startedArg) {
  process.stderr.write('usage: swarm-timeline.mjs STACK STARTED_AT_MS [LOAD_REPORT_JSON]\n');
  process.exit(2);
}
const startedAt = Number(startedArg);
const since = Math.floor((startedAt - 3000) / 1000);
const docker = (...args) => {
  try {
    return execFileSync('docker', args, {
      encoding: 'utf8',
      timeout: 30_000,
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
};
const lines = [];
const at = (ms, text) => lines.push({ ms, text });
const short = (name) => name.replace(`${stack}_`, '').replace(/^(\w+)\.(\d+)\.(\w{6})\w*$/, '$1.$2.$3');

// Task addresses on the stack's networks.
const addresses = new Map();
for (const service of ['gateway', 'nginx', 'db']) {
  const ids = docker('service', 'ps', '-q', '--no-trunc', `${stack}_${service}`).split('\n').filter(Boolean);
  if (ids.length === 0) continue;
  const out = docker(
    'inspect',
    '-f',
    '{{.ID}} {{.Slot}} {{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}',
    ...ids,
  );
  for (const line of out.split('\n').filter(Boolean)) {
    const [id, slot, ...ips] = line.trim().split(/\s+/);
    for (const ip of ips) addresses.set(ip.replace(/\/\d+$/, ''), `${service}.${slot}.${id.slice(0, 6)}`);
  }
}
const named = (text) =>
  text.replace(/\b(\d+\.\d+\.\d+\.\d+)(:\d+)?/g, (m, ip) =>
    addresses.has(ip) ? `${m}(${addresses.get(ip)})` : m,
  );

const events = docker(
  'events',
  '--since',
  String(since),
  '--until',
  String(Math.ceil(Date.now() / 1000)),
  '--filter',
  'type=container',
  '--filter',
  `label=com.docker.stack.namespace=${stack}`,
  '--format',
  '{{.TimeNano}} {{.Actor.Attributes.name}} {{.Action}}',
);
for (const line of events.split('\n').filter(Boolean)) {
  const [nano, name, ...action] = line.split(' ');
  const what = action.join(' ');
  if (/^exec_|^attach|^resize|^top/.test(what)) continue;
  at(Number(BigInt(nano) / 1_000_000n) - startedAt, `event ${short(name)} ${what}`);
}

const stamp = (line) => {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\s+(.*)$/.exec(line);
  return m ? { ms: Date.parse(m[1]) - startedAt, rest: m[2] } : null;
};
for (const line of docker(
  'service',
  'logs',
  '--raw',
  '--timestamps',
  '--since',
  String(since),
  `${stack}_nginx`,
).split('\n')) {
  const s = stamp(line);
  if (!s) continue;
  let entry = null;
  try {
    entry = JSON.parse(s.rest);
  } catch {}
  if (entry && typeof entry.status === 'number') {
    if (entry.status >= 200 && entry.status < 300 && entry.ms < 1) continue;
    at(
      s.ms - Math.round(entry.ms * 1000),
      `nginx request (${entry.ms}s) -> ${entry.status} via ${named(entry.upstream)} ${entry.upstreamMs}`,
    );
  } else at(s.ms, `nginx ${named(s.rest).slice(0, 300)}`);
}
for (const line of docker(
  'service',
  'logs',
  '--timestamps',
  '--since',
  String(since),
  `${stack}_gateway`,
).split('\n')) {
  const m = /^(\S+)\s+(\S+)\s*\|\s*(.*)$/.exec(line);
  if (!m) continue;
  const ms = Date.parse(m[1]) - startedAt;
  // Slow statements (a busy machine's) are left out: they are many, and no outcome of their own.
  if (!/stop|drain|listen|ready|error|warn|unavailable|started|signal/i.test(m[3]) || /"sql":/.test(m[3]))
    continue;
  at(ms, `${short(m[2].replace(/@.*$/, ''))} ${m[3].slice(0, 240)}`);
}
if (reportArg) {
  const report = JSON.parse(reportArg);
  for (const f of report.failures ?? [])
    at(f.endMs - (f.latencyMs ?? 0), `client request failed: ${f.what} after ${f.latencyMs ?? '?'} ms`);
}
lines.sort((a, b) => a.ms - b.ms);
// Runs of alike lines (the same outcome from the same upstream, durations aside) are one line.
const kind = (text) => text.replace(/\([\d.]+s\)|[\d.]+$|after \d+ ms/g, '');
for (let i = 0; i < lines.length; ) {
  let j = i + 1;
  while (j < lines.length && kind(lines[j].text) === kind(lines[i].text)) j++;
  const more = j - i > 1 ? ` (x${j - i} until ${lines[j - 1].ms} ms)` : '';
  process.stdout.write(`${String(lines[i].ms).padStart(8)} ms  ${lines[i].text}${more}\n`);
  i = j;
}
