// The benchmark driver behind scripts/bench.sh: for each mode, a stack (compose or native), the
// scenarios through autocannon's Node API, then results.json, report.md and chart.svg.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identityRequest, prepareIdentity } from './identity.mjs';
import { cannon, sleep, stopAll, summarize } from './load.mjs';
import { commitId, machineFacts } from './machine.mjs';
import { IDENTITY_SCENARIOS, parseArgs, USAGE, UsageError } from './options.mjs';
import { renderChart, renderReport } from './report.mjs';
import { BENCH_ENV, composeStack, composeUnavailable, nativeStack, nativeStackRunning } from './stack.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const say = (line) => process.stderr.write(`[bench] ${line}\n`);

/** Connections and seconds for a run: CGI starts a process per request, logins are bcrypt-bound. */
function loadFor(o, mode, scenario) {
  if (mode === 'cgi' && scenario !== 'static')
    return { connections: o.cgiConnections, duration: o.cgiDuration };
  if (scenario === 'issue') return { connections: Math.min(o.connections, 8), duration: o.duration };
  return { connections: o.connections, duration: o.duration };
}

function describe(r) {
  if (r.skipped) return `skipped (${r.skipped})`;
  const flag = r.flagged ? `  ⚠ errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}` : '';
  const mix = r.logins ? `, logins alongside ${r.logins.requestsPerSecond} req/s` : '';
  return `${r.requestsPerSecond} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms${mix}${flag}`;
}

/** What the chosen scenarios need made first: listable users, a member with a token. */
const seeding = (o, users) => ({
  users: o.scenarios.includes('users') ? users : 0,
  member: o.scenarios.includes('projects') || o.scenarios.includes('trust'),
  trust: o.scenarios.includes('trust'),
});

/** One measured run of `request`, after a discarded warm-up. */
async function measure(o, request, load, pipelining = o.pipelining) {
  if (o.warmup > 0) await cannon({ ...request, connections: load.connections, duration: o.warmup });
  say(`measuring ${load.duration} s`);
  const run = await cannon({ ...request, ...load, pipelining });
  return { ...summarize(run), ...load, pipelining };
}

async function identityScenario(o, mode, scenario, ctx) {
  const load = loadFor(o, mode, scenario);
  if (scenario === 'users' && ctx.users.status !== 200)
    return { skipped: `GET /v3/users answers ${ctx.users.status}` };
  if (scenario === 'trust' && !ctx.trust) return { skipped: 'no trust-scoped token could be made' };
  if (scenario === 'projects' && !ctx.member)
    return { skipped: 'no users, roles or grants API to make a member with' };
  if (scenario === 'issue') return measure(o, identityRequest('issue', ctx), load, 1);
  if (scenario !== 'mix') {
    const r = await measure(o, identityRequest(scenario, ctx), load);
    return scenario === 'users' ? { ...r, listed: ctx.users.listed, bodyBytes: ctx.users.bytes } : r;
  }
  // Validations measured while logins keep the password hashing saturated: the logins start
  // first and outlast the measured run on both sides.
  const logins = cannon({
    ...identityRequest('issue', ctx),
    connections: Math.max(4, load.connections >> 3),
    duration: load.duration + o.warmup + 2,
  });
  await sleep(1000);
  const validations = await measure(o, identityRequest('validate', ctx), load);
  return { ...validations, logins: summarize(await logins) };
}

/** Load across several graceful reloads: every failed request is reported. */
async function reloadRun(o, stack, url) {
  const duration = Math.max(o.duration, o.reloads + 2);
  const load = cannon({ url: `${url}/gateway/ping`, connections: o.connections, duration });
  let reloaded = 0;
  for (let i = 0; i < o.reloads; i++) {
    await sleep(1000);
    if (stack.reload()) reloaded++;
  }
  const r = summarize(await load);
  return {
    ...r,
    reloads: reloaded,
    failed: r.errors + r.timeouts + r.non2xx,
    connections: o.connections,
    duration,
  };
}

async function benchMode(o, stack, mode, runs) {
  const record = (scenario, r) => {
    runs.push({ mode, scenario, ...r });
    say(`${mode} ${scenario}: ${describe(r)}`);
  };
  const wanted = (s) => o.scenarios.includes(s);
  const identity = o.scenarios.some((s) => IDENTITY_SCENARIOS.includes(s)) || o.reload;
  if (identity && !stack.identityBuilt) throw new Error('the identity app is not built (npm run build)');

  // The gateway's own cost: the hello app, where the stack can host it (native).
  if (wanted('overhead') && stack.kind === 'native') {
    say(`${mode}: starting the stack with the hello app`);
    const up = stack.start(mode, { hello: true });
    record(
      'overhead',
      await measure(o, { url: `${up.url}${up.overheadPath}` }, loadFor(o, mode, 'overhead')),
    );
    stack.stop();
  }
  const rest = o.scenarios.filter((s) => s !== 'overhead' || stack.kind !== 'native');
  if (rest.length === 0 && !o.reload) return;

  say(`${mode}: starting the stack`);
  const up = stack.start(mode, { hello: !identity });
  const ctx = identity ? await prepareIdentity(up.url, up.creds, seeding(o, o.users ?? 1000)) : null;
  for (const scenario of rest) {
    if (scenario === 'static')
      record('static', await measure(o, { url: `${up.url}/index.html` }, loadFor(o, mode, scenario)));
    else if (scenario === 'overhead')
      record(
        'overhead',
        await measure(o, { url: `${up.url}${up.overheadPath}` }, loadFor(o, mode, scenario)),
      );
    else record(scenario, await identityScenario(o, mode, scenario, ctx));
  }
  if (o.reload) {
    const r = await reloadRun(o, stack, up.url);
    runs.push({ mode, scenario: 'reload', ...r });
    say(`${mode} reload x${r.reloads} under load: ${r.failed} failed of ${r.total}`);
  }
  stack.stop();
}

async function benchTarget(o, runs) {
  const creds = {
    OS_USERNAME: process.env.OS_USERNAME,
    OS_PASSWORD: process.env.OS_PASSWORD,
    OS_PROJECT_NAME: process.env.OS_PROJECT_NAME,
    OS_USER_DOMAIN_NAME: process.env.OS_USER_DOMAIN_NAME ?? 'Default',
    OS_PROJECT_DOMAIN_NAME: process.env.OS_PROJECT_DOMAIN_NAME ?? 'Default',
  };
  if (!creds.OS_PASSWORD) throw new UsageError('--target needs OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME');
  const ctx = await prepareIdentity(o.target, creds, seeding(o, o.users ?? 0));
  for (const scenario of o.scenarios.filter((s) => IDENTITY_SCENARIOS.includes(s))) {
    const r = await identityScenario(o, 'target', scenario, ctx);
    runs.push({ mode: 'target', scenario, ...r });
    say(`target ${scenario}: ${describe(r)}`);
  }
}

function compare(dirA, dirB) {
  const load = (dir) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  const [a, b] = [load(dirA), load(dirB)];
  const lines = [`B (${b.commit}, ${b.date}) relative to A (${a.commit}, ${a.date}):`];
  for (const run of b.runs) {
    const before = a.runs.find((r) => r.mode === run.mode && r.scenario === run.scenario);
    if (!before?.requestsPerSecond || !run.requestsPerSecond) continue;
    const ratio = (run.requestsPerSecond / before.requestsPerSecond).toFixed(2);
    const flag = run.flagged || before.flagged ? '  ⚠ errors in a run' : '';
    lines.push(
      `${run.mode.padEnd(8)} ${run.scenario.padEnd(9)} ${ratio}x  (${before.requestsPerSecond} -> ${run.requestsPerSecond} req/s)${flag}`,
    );
  }
  if (lines.length === 1) lines.push('no mode and scenario measured in both');
  process.stdout.write(`${lines.join('\n')}\n`);
}

function pickStack(o) {
  if (!o.native) {
    const why = composeUnavailable(root);
    if (!why) return composeStack(root);
    say(`no compose stack here (${why}): using the native stack (scripts/stack.sh), as --native does`);
  }
  if (nativeStackRunning(root))
    throw new UsageError(
      'scripts/stack.sh already runs a stack in this checkout: stop it first (scripts/stack.sh stop)',
    );
  return nativeStack(root, { workers: o.workers });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.command === 'help') return void process.stdout.write(`${USAGE}\n`);
  if (o.command === 'compare') return compare(...o.compare);

  const commit = commitId(root);
  const started = new Date();
  const out = resolve(
    o.out ??
      join(root, 'bench/results', `${started.toISOString().slice(0, 19).replaceAll(':', '')}-${commit}`),
  );
  mkdirSync(out, { recursive: true });
  const machine = machineFacts(root);
  const runs = [];
  const stack = o.target ? null : pickStack(o);
  const interrupt = (signal) => {
    say(`${signal}: stopping the load and the stack`);
    stopAll();
    stack?.stop();
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    if (o.target) await benchTarget(o, runs);
    else for (const mode of o.modes) await benchMode(o, stack, mode, runs);
  } finally {
    stack?.stop();
  }
  const results = {
    date: started.toISOString(),
    commit,
    machine,
    stack: o.target ? { kind: 'target', url: o.target } : { kind: stack.kind, env: BENCH_ENV },
    settings: {
      connections: o.connections,
      duration: o.duration,
      pipelining: o.pipelining,
      warmup: o.warmup,
      cgiConnections: o.cgiConnections,
      cgiDuration: o.cgiDuration,
      workers: o.workers,
      users: o.users,
    },
    runs,
  };
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'report.md'), renderReport(results));
  writeFileSync(join(out, 'chart.svg'), renderChart(results));
  process.stdout.write(`${out}\n`);
}

main().catch((err) => {
  say(err instanceof UsageError ? `${err.message}\n${USAGE}` : err.message);
  process.exit(err instanceof UsageError ? 2 : 1);
});
