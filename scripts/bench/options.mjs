// Command line of scripts/bench.sh: modes, scenarios, load settings, and the loopback rule.

export const MODES = ['fastcgi', 'uwsgi', 'http', 'cgi'];
export const SCENARIOS = [
  'static',
  'overhead',
  'version',
  'validate',
  'trust',
  'issue',
  'users',
  'projects',
  'mix',
];
/** Scenarios that need the identity service (and that --target runs). */
export const IDENTITY_SCENARIOS = ['version', 'validate', 'trust', 'issue', 'users', 'projects', 'mix'];

export const USAGE = `usage: scripts/bench.sh [--native] [options]
       scripts/bench.sh --target URL [options]     (OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME… set)
       scripts/bench.sh --compare DIR_A DIR_B

  --native             run the stack with scripts/stack.sh (no Docker)
  --modes LIST         fastcgi,uwsgi,http,cgi (default: all)
  --scenarios LIST     static,overhead,version,validate,trust,issue,users,projects,mix (default: all)
                       (trust: validate a trust-scoped token, the member's through a trust from the admin)
  --connections N      concurrent connections (default 32)
  --duration S         seconds per measured run (default 5)
  --pipelining N       requests in flight per connection (default 1; logins always 1)
  --warmup S           seconds of discarded load before each run (default 1)
  --cgi-connections N  connections in cgi mode (default 4: one process per request)
  --cgi-duration S     seconds per run in cgi mode (default 3)
  --workers N          gateway workers (default: the gateway's, one per core)
  --users N            users the users scenario lists (default 1000; with --target, what is there)
  --reload             also run load across --reloads SIGHUPs of the gateway; report failed requests
  --reloads N          reloads in that run (default 3)
  --out DIR            result folder (default bench/results/<date>-<commit>)
  --target URL         the identity scenarios against any Keystone-compatible service on this machine
  --compare A B        ratios between two result folders (B relative to A)`;

const LIMITS = {
  connections: [1, 1024],
  duration: [1, 600],
  pipelining: [1, 64],
  warmup: [0, 60],
  cgiConnections: [1, 64],
  cgiDuration: [1, 600],
  workers: [1, 64],
  users: [0, 10000],
  reloads: [1, 20],
};

export class UsageError extends Error {}

function number(name, text) {
  const [min, max] = LIMITS[name];
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${kebab(name)} must be a whole number from ${min} to ${max}, not '${text}'`);
  return n;
}
const kebab = (s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function list(text, allowed, what) {
  const items = String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${what} needs a comma-separated list`);
  for (const item of items)
    if (!allowed.includes(item))
      throw new UsageError(`unknown ${what.replace(/s$/, '')} '${item}' (one of ${allowed.join(', ')})`);
  // Keep the canonical order whatever order was typed, so reports line up run after run.
  return allowed.filter((a) => items.includes(a));
}

/** True for http URLs on this machine's loopback: the only place load may go. */
export function isLoopbackUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function parseArgs(argv) {
  const o = {
    command: 'run',
    native: false,
    modes: MODES,
    scenarios: SCENARIOS,
    connections: 32,
    duration: 5,
    pipelining: 1,
    warmup: 1,
    cgiConnections: 4,
    cgiDuration: 3,
    workers: null,
    users: null,
    reload: false,
    reloads: 3,
    out: null,
    target: null,
    compare: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '-h':
      case '--help':
        o.command = 'help';
        break;
      case '--native':
        o.native = true;
        break;
      case '--reload':
        o.reload = true;
        break;
      case '--modes':
        o.modes = list(value(), MODES, 'modes');
        break;
      case '--scenarios':
        o.scenarios = list(value(), SCENARIOS, 'scenarios');
        break;
      case '--out':
        o.out = value();
        break;
      case '--target':
        o.target = value().replace(/\/+$/, '').replace(/\/v3$/, '');
        break;
      case '--compare':
        o.command = 'compare';
        o.compare = [value(), value()];
        break;
      default: {
        const m = /^--([a-z-]+)$/.exec(a ?? '');
        const key = m?.[1]?.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        if (!key || !(key in LIMITS)) throw new UsageError(`unknown option '${a}'`);
        o[key] = number(key, value());
      }
    }
  }
  if (o.target && !isLoopbackUrl(o.target))
    throw new UsageError(
      `--target must be an http URL on this machine (127.0.0.1, localhost, ::1), not '${o.target}'`,
    );
  if (o.target && o.native) throw new UsageError('--target and --native exclude each other');
  return o;
}
