/**
 * The real `openstack` client (python3-openstackclient) for the osc-*.test.ts files: `openstack()`
 * runs one command, `oscStack()` the whole stack (scripts/stack.sh) for a suite, and
 * `openstackScenario()` the scenario against an Identity URL: token issue, catalog list, endpoint
 * list, token issue with --os-token, token revoke, and the revoked token refused (osc.test.ts at
 * GATEHOUSE_URL, osc-stack.test.ts in each gateway mode, osc-local.test.ts in process).
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

export interface OscResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The `openstack` console script's code, imported once (osc-fork.py), forked for each command. */
const forkScript = fileURLToPath(new URL('../../test/osc-fork.py', import.meta.url));

interface Answer {
  id: number;
  status: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
}

let driver: { child: ChildProcessWithoutNullStreams; waiting: Map<number, (a: Answer) => void> } | undefined;
let nextId = 0;

function forkServer(): NonNullable<typeof driver> {
  if (driver) return driver;
  const child = spawn('/usr/bin/python3', [forkScript], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map<number, (a: Answer) => void>();
  const started = { child, waiting };
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const answer = JSON.parse(line) as Answer;
    waiting.get(answer.id)?.(answer);
    waiting.delete(answer.id);
    if (waiting.size === 0) idle(child);
  });
  child.on('exit', (code, signal) => {
    driver = undefined;
    const failure: Answer = {
      id: -1,
      status: null,
      signal: null,
      stdout: '',
      stderr: `osc-fork.py exited (${code ?? signal}): ${stderr}`,
    };
    for (const resolve of waiting.values()) resolve(failure);
    waiting.clear();
  });
  driver = started;
  return started;
}

/** Nothing waited for: the driver does not keep this process alive (it ends at our stdin's EOF). */
function idle(child: ChildProcessWithoutNullStreams): void {
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ unref?: () => void }>)
    s.unref?.();
}
function busy(child: ChildProcessWithoutNullStreams): void {
  child.ref();
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void }>)
    s.ref?.();
}

/**
 * `openstack ARGS` with `env` added to this process's environment, as the console script runs it,
 * killed after 60 s. Asynchronous, so that a server in this same process keeps answering while
 * the client runs; commands may run at the same time.
 */
export function openstack(env: Record<string, string>, ...args: string[]): Promise<OscResult> {
  const { child, waiting } = forkServer();
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, (a) => resolve({ status: a.status, stdout: a.stdout.trim(), stderr: a.stderr.trim() }));
    busy(child);
    child.stdin.write(
      `${JSON.stringify({ id, argv: args, env: { ...process.env, ...env }, timeout: 60 })}\n`,
    );
  });
}

/** OS_* variables for the bootstrap admin, project-scoped, at `authUrl` (…/v3). */
export function adminEnv(authUrl: string, password: string): Record<string, string> {
  return {
    OS_AUTH_URL: authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_AUTH_TYPE: 'password',
    OS_USERNAME: 'admin',
    OS_PASSWORD: password,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_NAME: 'admin',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_INTERFACE: 'public',
    OS_REGION_NAME: 'RegionOne',
  };
}

/**
 * `args` go before every command (e.g. --os-cacert FILE); the identity endpoints' URLs of the
 * catalog are returned.
 */
export async function openstackScenario(
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<{ endpointUrls: string[] }> {
  const os = (e: Record<string, string>, ...rest: string[]) => openstack(e, ...args, ...rest);
  const authUrl = env.OS_AUTH_URL as string;
  // The commands that do not depend on each other run at the same time.
  const [issued, catalog, endpoints, wrong] = await Promise.all([
    os(env, 'token', 'issue', '-f', 'json'),
    os(env, 'catalog', 'list', '-f', 'json'),
    os(env, 'endpoint', 'list', '-f', 'json'),
    os({ ...env, OS_PASSWORD: 'not the password' }, 'token', 'issue'),
  ]);
  assert.equal(issued.status, 0, issued.stderr);
  const token = JSON.parse(issued.stdout) as { id: string; project_id: string; user_id: string };
  assert.match(token.id, /^gAAAAA[\w-]+$/);
  assert.match(token.project_id, /^[0-9a-f]{32}$/);

  assert.equal(catalog.status, 0, catalog.stderr);
  const services = JSON.parse(catalog.stdout) as Array<{ Name: string; Type: string; Endpoints: unknown }>;
  const identity = services.find((s) => s.Type === 'identity');
  assert.equal(identity?.Name, 'keystone');

  assert.equal(endpoints.status, 0, endpoints.stderr);
  const rows = JSON.parse(endpoints.stdout) as Array<{
    'Service Type': string;
    Interface: string;
    URL: string;
  }>;
  assert.deepEqual(
    rows
      .filter((r) => r['Service Type'] === 'identity')
      .map((r) => r.Interface)
      .sort(),
    ['admin', 'internal', 'public'],
  );

  // With the token instead of a password (the password variables would conflict).
  const tokenEnv = {
    ...env,
    OS_AUTH_TYPE: 'token',
    OS_TOKEN: token.id,
    OS_USERNAME: '',
    OS_PASSWORD: '',
    OS_USER_DOMAIN_NAME: '',
  };
  const reissued = await os(tokenEnv, 'token', 'issue', '-f', 'json');
  assert.equal(reissued.status, 0, reissued.stderr);
  assert.equal(JSON.parse(reissued.stdout).project_id, token.project_id);

  const revoked = await os(env, 'token', 'revoke', token.id);
  assert.equal(revoked.status, 0, revoked.stderr);
  const refused = await os(tokenEnv, 'token', 'issue');
  assert.notEqual(refused.status, 0, 'a revoked token is refused');
  // Keystone 22 answers the token method with a revoked token 404 "Failed to validate token".
  assert.match(refused.stderr, /Failed to validate token \(HTTP 404\)/);

  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /requires authentication.*HTTP 401/);
  assert.ok(authUrl);
  return { endpointUrls: rows.filter((r) => r['Service Type'] === 'identity').map((r) => r.URL) };
}

/** `openstack ARGS` that must succeed (the test fails with the client's stderr); its stdout. */
export async function oscOk(env: Record<string, string>, ...args: string[]): Promise<string> {
  const r = await openstack(env, ...args);
  assert.equal(r.status, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `openstack ARGS -f json` that must succeed; its output parsed. */
export async function oscJson(env: Record<string, string>, ...args: string[]) {
  return JSON.parse(await oscOk(env, ...args, '-f', 'json'));
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const stackScript = `${root}/scripts/stack.sh`;

export interface OscStack {
  /** Its state directory (GATEHOUSE_STACK_DIR): pg/port, gateway.pid, logs/, … */
  readonly dir: string;
  /** The OS_* exports of the last `start`: the bootstrap admin, by password. */
  env: Record<string, string>;
  /**
   * The same admin by the token one password login issued before the tests (OS_AUTH_TYPE=token),
   * for the commands that are not about logging in: each command saves a password check. Empty
   * when the tests start the stack themselves.
   */
  admin: Record<string, string>;
  /** GATEHOUSE_URL of the last `start`, without a trailing slash. */
  url: string;
  /** `scripts/stack.sh start ARGS` (a running stack is stopped first); asserts it succeeded; its stdout. */
  start(...args: string[]): string;
  /** `openstack ARGS` as `admin`, which must succeed: its stdout. */
  run(...args: string[]): Promise<string>;
  /** `openstack ARGS -f json` as `admin`, which must succeed: its output parsed. */
  json(...args: string[]): ReturnType<typeof oscJson>;
}

/**
 * The whole stack (scripts/stack.sh: PostgreSQL, the gateway, nginx) in a state directory of its
 * own, for the suite (or file) this is called in: started before its tests with `startArgs`
 * (unless there are none: the tests call `start` themselves), stopped and removed after them.
 */
export function oscStack(name: string, ...startArgs: string[]): OscStack {
  let state = '';
  const stack = (...args: string[]) =>
    spawnSync(stackScript, args, {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
      // PG_FAST: the stack's data is thrown away after the suite.
      env: { ...process.env, GATEHOUSE_STACK_DIR: s.dir, PG_FAST: '1' },
    });
  const s: OscStack = {
    get dir() {
      if (!state) {
        state = mkdtempSync(join(tmpdir(), `${name}-`));
        chmodSync(state, 0o755); // PostgreSQL runs as its own user when the tests run as root
      }
      return join(state, 'stack');
    },
    env: {},
    admin: {},
    url: '',
    start(...args) {
      const started = stack('start', ...args);
      assert.equal(started.status, 0, started.stderr);
      s.env = {};
      for (const m of started.stdout.matchAll(/^export (OS_\w+)=(.*)$/gm))
        s.env[m[1] as string] = m[2] as string;
      s.url = (/^GATEHOUSE_URL=(.*)$/m.exec(started.stdout)?.[1] ?? '').replace(/\/$/, '');
      s.admin = {};
      return started.stdout;
    },
    run: (...args) => oscOk(s.admin, ...args),
    json: (...args) => oscJson(s.admin, ...args),
  };
  before(async () => {
    if (startArgs.length === 0) return;
    s.start(...startArgs);
    const token = (await oscOk(s.env, 'token', 'issue', '-f', 'value', '-c', 'id')).trim();
    s.admin = {
      ...s.env,
      OS_AUTH_TYPE: 'token',
      OS_TOKEN: token,
      OS_USERNAME: '',
      OS_PASSWORD: '',
      OS_USER_DOMAIN_NAME: '',
    };
  });
  after(() => {
    if (!state) return;
    stack('stop');
    rmSync(state, { recursive: true, force: true });
  });
  return s;
}
