// The benchmark driver behind scripts/bench.sh: autocannon through its Node API, one stack per
// mode (scripts/stack.sh), results as JSON, a Markdown report and an SVG chart.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { renderChart, renderReport } from './report.mjs';
import { seedIdentity } from './seed.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MODES = ['fastcgi', 'uwsgi', 'http', 'cgi'];
const SCENARIOS = ['static', 'overhead', 'version', 'validate', 'issue', 'users', 'projects', 'mix'];

function parseArgs(argv) {
  const o = {
    modes: MODES,
    scenarios: SCENARIOS,
    connections: 32,
    duration: 5,
    pipelining: 1,
    warmup: 1,
    reload: false,
    native: false,
    out: null,
    target: null,
    compare: null,
    users: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--modes') o.modes = next().split(',');
    else if (a === '--scenarios') o.scenarios = next().split(',');
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--pipelining') o.pipelining = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--reload') o.reload = true;
    else if (a === '--native') o.native = true;
    else if (a === '--out') o.out = next();
    else if (a === '--target') o.target = next();
    else if (a === '--compare') o.compare = [next(), next()];
    else if (a === '--users') o.users = Number(next());
    else throw new Error(`unknown option ${a}`);
  }
  for (const m of o.modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m}`);
  for (const s of o.scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
  return o;
}

const say = (line) => process.stderr.write(`[bench] ${line}\n`);
const stack = (...args) => spawnSync(join(root, 'scripts/stack.sh'), args, { cwd: root, encoding: 'utf8' });

function startStack(mode) {
  const r = stack('start', '--protocol', mode);
  if (r.status !== 0) throw new Error(`stack did not start in ${mode} mode:\n${r.stderr}`);
  const env = {};
  for (const m of r.stdout.matchAll(/^(?:export )?([A-Z_]+)=(.*)$/gm)) env[m[1]] = m[2];
  return env;
}

async function issueToken(base, creds) {
  const res = await fetch(`${base}/v3/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(loginBody(creds)),
  });
  if (res.status !== 201) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token');
}

function loginBody(c) {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: {
          user: {
            name: c.OS_USERNAME,
            domain: { name: c.OS_USER_DOMAIN_NAME ?? 'Default' },
            password: c.OS_PASSWORD,
          },
        },
      },
      scope: {
        project: { name: c.OS_PROJECT_NAME, domain: { name: c.OS_PROJECT_DOMAIN_NAME ?? 'Default' } },
      },
    },
  };
}

/** The autocannon request for a scenario, or null when the target lacks it. */
function requestFor(scenario, base, token, creds) {
  const auth = { 'x-auth-token': token };
  switch (scenario) {
    case 'static':
      return { url: `${base}/index.html` };
    case 'overhead':
      return { url: `${base}/gateway/ping` };
    case 'version':
      return { url: `${base}/v3` };
    case 'validate':
      return { url: `${base}/v3/auth/tokens`, headers: { ...auth, 'x-subject-token': token } };
    case 'issue':
      return {
        url: `${base}/v3/auth/tokens`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(loginBody(creds)),
      };
    case 'users':
      return { url: `${base}/v3/users`, headers: auth };
    case 'projects':
      // A member's own projects (what `openstack project list --my-projects` reads): Keystone's
      // default policy answers a member's GET /v3/projects with 403.
      if (!creds.memberId) return null;
      return {
        url: `${base}/v3/users/${creds.memberId}/projects`,
        headers: { 'x-auth-token': creds.memberToken },
      };
    default:
      return null;
  }
}

const running = new Set();
function cannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => {
      running.delete(instance);
      if (err) reject(err);
      else resolve(result);
    });
    running.add(instance);
  });
}

function summarize(result) {
  return {
    requestsPerSecond: Math.round(result.requests.average),
    total: result.requests.total,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

async function runScenario(o, mode, scenario, base, token, creds) {
  const cgi = mode === 'cgi';
  const connections = cgi
    ? Math.min(o.connections, 4)
    : scenario === 'issue'
      ? Math.min(o.connections, 8)
      : o.connections;
  const duration = cgi ? Math.min(o.duration, 3) : o.duration;
  if (scenario === 'mix') {
    // Validations measured while logins run at saturation (bcrypt on the thread pool).
    const login = cannon({
      ...requestFor('issue', base, token, creds),
      connections: 4,
      duration: duration + 1,
    });
    await new Promise((r) => setTimeout(r, 500));
    const validate = await cannon({
      ...requestFor('validate', base, token, creds),
      connections,
      duration,
      pipelining: o.pipelining,
    });
    const logins = await login;
    return { ...summarize(validate), connections, duration, logins: summarize(logins) };
  }
  const request = requestFor(scenario, base, token, creds);
  if (!request) return { skipped: 'no data for this scenario on this target' };
  const probe = await fetch(request.url, {
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
  });
  if (probe.status === 404 || probe.status === 405)
    return { skipped: `${request.url} answers ${probe.status}` };
  if (o.warmup > 0) await cannon({ ...request, connections, duration: o.warmup });
  const result = await cannon({
    ...request,
    connections,
    duration,
    pipelining: scenario === 'issue' ? 1 : o.pipelining,
  });
  return { ...summarize(result), connections, duration };
}

async function reloadRun(o, base) {
  const request = { url: `${base}/gateway/ping` };
  const load = cannon({ ...request, connections: o.connections, duration: Math.max(o.duration, 4) });
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    stack('reload');
  }
  const r = summarize(await load);
  return { ...r, reloads: 3, failed: r.errors + r.non2xx };
}

function machine() {
  const version = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      return String(e.stderr ?? '').trim() || 'unknown';
    }
  };
  return {
    cores: availableParallelism(),
    node: process.version,
    nginx: spawnSync('nginx', ['-v'], { encoding: 'utf8' })
      .stderr.trim()
      .replace(/^nginx version: /, ''),
    postgres: version('psql', ['--version']),
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.compare) {
    const [a, b] = o.compare.map((dir) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    for (const run of b.runs) {
      const before = a.runs.find((r) => r.mode === run.mode && r.scenario === run.scenario);
      if (!before?.requestsPerSecond || !run.requestsPerSecond) continue;
      process.stdout.write(
        `${run.mode.padEnd(8)} ${run.scenario.padEnd(9)} ${(run.requestsPerSecond / before.requestsPerSecond).toFixed(2)}x  (${before.requestsPerSecond} -> ${run.requestsPerSecond} req/s)\n`,
      );
    }
    return;
  }
  const commit =
    spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() ||
    'nocommit';
  const out =
    o.out ??
    join(root, 'bench/results', `${new Date().toISOString().slice(0, 19).replaceAll(':', '')}-${commit}`);
  mkdirSync(out, { recursive: true });
  const runs = [];
  let started = false;
  const stop = () => started && stack('stop');
  process.on('SIGINT', () => {
    for (const instance of running) instance.stop();
    stop();
    process.exit(130);
  });
  try {
    if (o.target) {
      const creds = process.env;
      const token = await issueToken(o.target, creds);
      for (const scenario of o.scenarios.filter((s) =>
        ['version', 'validate', 'issue', 'users', 'mix'].includes(s),
      )) {
        say(`target ${o.target}: ${scenario}`);
        runs.push({
          mode: 'target',
          scenario,
          ...(await runScenario(o, 'target', scenario, o.target, token, creds)),
        });
      }
    } else {
      if (!o.native)
        say(
          'no compose stack to benchmark here: using the native stack (scripts/stack.sh), as --native does',
        );
      for (const mode of o.modes) {
        say(`${mode}: starting the stack`);
        const env = startStack(mode);
        started = true;
        const base = env.GATEHOUSE_URL;
        const creds = {
          OS_USERNAME: env.OS_USERNAME,
          OS_PASSWORD: env.OS_PASSWORD,
          OS_PROJECT_NAME: env.OS_PROJECT_NAME,
          OS_USER_DOMAIN_NAME: 'Default',
          OS_PROJECT_DOMAIN_NAME: 'Default',
        };
        const token = await issueToken(base, creds);
        if (o.scenarios.includes('users') || o.scenarios.includes('projects')) {
          const memberPassword = 'bench member password';
          const seeded = await seedIdentity(root, { users: o.users, memberPassword });
          say(`${mode}: ${seeded.total} users in the database`);
          creds.memberId = seeded.memberId;
          creds.memberToken = await issueToken(base, {
            OS_USERNAME: 'bench-member',
            OS_PASSWORD: memberPassword,
            OS_PROJECT_NAME: env.OS_PROJECT_NAME,
          });
        }
        for (const scenario of o.scenarios) {
          const r = await runScenario(o, mode, scenario, base, token, creds);
          runs.push({ mode, scenario, ...r });
          say(
            r.skipped
              ? `${mode} ${scenario}: skipped (${r.skipped})`
              : `${mode} ${scenario}: ${r.requestsPerSecond} req/s, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}`,
          );
        }
        if (o.reload) {
          const r = await reloadRun(o, base);
          runs.push({ mode, scenario: 'reload', ...r });
          say(`${mode} reload x3 under load: ${r.failed} failed of ${r.total}`);
        }
        stack('stop');
        started = false;
      }
    }
  } finally {
    stop();
  }
  const results = {
    date: new Date().toISOString(),
    commit,
    machine: machine(),
    settings: {
      connections: o.connections,
      duration: o.duration,
      pipelining: o.pipelining,
      warmup: o.warmup,
    },
    runs,
  };
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'report.md'), renderReport(results));
  writeFileSync(join(out, 'chart.svg'), renderChart(results));
  process.stdout.write(`${out}\n`);
}

main().catch((err) => {
  say(err.message);
  process.exit(1);
});
