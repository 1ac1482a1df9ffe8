// The stacks a benchmark runs against: the native one (scripts/stack.sh) or the compose one.
// Both start a mode, reload the gateway, and stop only what they started.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLoopbackUrl } from './options.mjs';

const HELLO_APP = 'gateway/dist/examples/hello/index.js';
const HELLO_CGI = 'gateway/dist/examples/hello/cgi.js';

/**
 * Access logs off unless the caller set them: at tens of thousands of requests a second they
 * would fill the disk and measure the log writer. Recorded in results.json.
 */
export const BENCH_ENV = { NGINX_ACCESS_LOG: 'off', GATEWAY_ACCESS_LOG: 'false' };
const benchEnv = () => ({ ...BENCH_ENV, ...pick(process.env, Object.keys(BENCH_ENV)) });
const pick = (env, keys) =>
  Object.fromEntries(keys.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));

function exports(stdout) {
  const env = {};
  for (const m of stdout.matchAll(/^(?:export )?([A-Z_]+)=(.*)$/gm)) env[m[1]] = m[2];
  return env;
}
const credsFrom = (env) =>
  env.OS_PASSWORD
    ? {
        OS_USERNAME: env.OS_USERNAME ?? 'admin',
        OS_PASSWORD: env.OS_PASSWORD,
        OS_PROJECT_NAME: env.OS_PROJECT_NAME ?? 'admin',
        OS_USER_DOMAIN_NAME: env.OS_USER_DOMAIN_NAME ?? 'Default',
        OS_PROJECT_DOMAIN_NAME: env.OS_PROJECT_DOMAIN_NAME ?? 'Default',
      }
    : null;

/** Whether scripts/stack.sh has anything running (someone else's stack must not be replaced). */
export function nativeStackRunning(root) {
  const r = spawnSync(join(root, 'scripts/stack.sh'), ['status'], { cwd: root, encoding: 'utf8' });
  return r.status === 0;
}

export function nativeStack(root, { workers }) {
  let up = false;
  const stackSh = (args) =>
    spawnSync(join(root, 'scripts/stack.sh'), args, {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...benchEnv() },
      timeout: 180_000,
    });
  return {
    kind: 'native',
    identityBuilt: existsSync(join(root, 'app/dist/src/manage.js')),
    /** Starts `mode` with the hello app (the gateway's overhead) or the identity app. */
    start(mode, { hello }) {
      const args = ['start', '--protocol', mode];
      if (workers) args.push('--workers', String(workers));
      if (hello) {
        args.push('--app', join(root, HELLO_APP));
        if (mode === 'cgi') args.push('--cgi-command', `node ${join(root, HELLO_CGI)}`);
      }
      up = true; // a failed start cleans up after itself, and stop() is harmless then
      const r = stackSh(args);
      if (r.status !== 0) throw new Error(`the ${mode} stack did not start:\n${r.stderr.trim()}`);
      const env = exports(r.stdout);
      return {
        url: env.GATEHOUSE_URL,
        creds: hello ? null : credsFrom(env),
        overheadPath: hello ? '/hello' : '/gateway/ping',
      };
    },
    reload() {
      return stackSh(['reload']).status === 0;
    },
    stop() {
      if (!up) return;
      stackSh(['stop']);
      up = false;
    },
  };
}

/** `docker compose` (v2) where the plugin is there, else Debian's `docker-compose` (1.29). */
function composeCommand() {
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version']).status === 0) return ['docker-compose'];
  return null;
}

/** Why the compose stack cannot be used here, or null when it can. */
export function composeUnavailable(root) {
  if (spawnSync('docker', ['--version']).status !== 0) return 'Docker is not installed';
  if (!composeCommand()) return 'neither docker compose nor docker-compose is installed';
  if (!['docker-compose.yml', 'compose.yaml', 'compose.yml'].some((f) => existsSync(join(root, f))))
    return 'this checkout has no compose file';
  if (spawnSync('docker', ['info'], { timeout: 10_000 }).status !== 0)
    return 'the Docker daemon is not running';
  return null;
}

/** Waits until every container of the stack is healthy (the one-shot migrate: exited 0). */
function waitHealthy(compose, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const ids = compose(['ps', '-q']).stdout.trim().split('\n').filter(Boolean);
    const states = ids.map((id) =>
      spawnSync(
        'docker',
        [
          'inspect',
          '-f',
          '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}',
          id,
        ],
        { encoding: 'utf8' },
      ).stdout.trim(),
    );
    const pending = states.filter((st) => !/ running healthy /.test(st) && !/migrate.* exited - 0$/.test(st));
    if (ids.length > 0 && pending.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`the compose stack is not healthy in time: ${pending.join(', ')}`);
    spawnSync('sleep', ['1']);
  }
}

/**
 * The compose stack (docker-compose.yml: services nginx, gateway, migrate, db). A mode is
 * selected with GATEWAY_PROTOCOL, as in .env; `up -d` recreates what changed, then the
 * healthchecks are awaited. A stack that was already running is put back in its own mode
 * afterwards; one this benchmark started is taken down again (its volumes kept).
 */
export function composeStack(root) {
  const command = composeCommand();
  const compose = (args, env = {}) =>
    spawnSync(command[0], [...command.slice(1), ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 600_000,
    });
  const wasRunning = compose(['ps', '-q', 'gateway']).stdout.trim() !== '';
  let touched = false;
  const dotenv = existsSync(join(root, '.env')) ? exports(readFileSync(join(root, '.env'), 'utf8')) : {};
  return {
    kind: 'compose',
    // The images carry the identity app; the hello app is not in them, so the overhead scenario
    // measures the gateway's own /gateway/ping.
    identityBuilt: true,
    start(mode) {
      touched = true;
      const r = compose(['up', '-d'], { GATEWAY_PROTOCOL: mode });
      if (r.status !== 0) throw new Error(`${command.join(' ')} up (${mode}) failed:\n${r.stderr.trim()}`);
      waitHealthy(compose, 240);
      const port = compose(['port', 'nginx', '80']).stdout.trim().split('\n')[0] ?? '';
      const url =
        process.env.BENCH_COMPOSE_URL ?? `http://127.0.0.1:${port.slice(port.lastIndexOf(':') + 1)}`;
      if (!isLoopbackUrl(url)) throw new Error(`the compose stack's address ${url} is not on this machine`);
      const password =
        process.env.OS_PASSWORD ??
        process.env.IDENTITY_ADMIN_PASSWORD ??
        dotenv.IDENTITY_ADMIN_PASSWORD ??
        /generated the admin password: (\S+)/.exec(compose(['logs', '--no-color', 'migrate']).stdout)?.[1];
      if (!password)
        throw new Error(
          "the compose stack's admin password is unknown: set OS_PASSWORD (or IDENTITY_ADMIN_PASSWORD in .env)",
        );
      return {
        url,
        creds: credsFrom({ ...process.env, OS_PASSWORD: password }),
        overheadPath: '/gateway/ping',
      };
    },
    reload() {
      return compose(['kill', '-s', 'HUP', 'gateway']).status === 0;
    },
    stop() {
      if (!touched) return;
      if (wasRunning) {
        compose(['up', '-d']);
        waitHealthy(compose, 240);
      } else compose(['down']);
      touched = false;
    },
  };
}
