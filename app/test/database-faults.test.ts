/**
 * PostgreSQL going away under the service: a real cluster of this test's own (scripts/pg.sh), stopped
 * and started again under the real gateway and under app instances in this process.
 *
 * While it is down every request is answered at once with Keystone's 503 body (never a hang, never a
 * 500), and the gateway's healthcheck fails; once it is back the pool reconnects by itself, LISTEN is
 * re-established, and until it is the validation cache stays off: a token revoked elsewhere in that
 * window is refused. A connection that cannot be made and a statement that does not end are bounded
 * by IDENTITY_DATABASE_CONNECT_TIMEOUT and IDENTITY_DATABASE_STATEMENT_TIMEOUT.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { build } from '../src/app.js';
import { createPool } from '../src/db.js';
import { LISTEN_APPLICATION_NAME } from '../src/invalidation.js';
import { tokenValidations } from '../src/metrics.js';
import { until } from './events.js';
import { ADMIN_PASSWORD, type TestDatabase, testDatabase } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pgScript = join(root, 'scripts/pg.sh');
const handlerModule = join(root, 'app/dist/src/handler.js');
const healthcheckBin = join(root, 'gateway/dist/src/bin/healthcheck.js');
const helpers = new URL('../../../gateway/dist/test/helpers/', import.meta.url);

interface RunningPool {
  port: number;
  lines: Array<Record<string, unknown>>;
  waitForLog(check: (lines: Array<Record<string, unknown>>) => boolean, what: string): Promise<void>;
  kill(): void;
  exited: Promise<number | null>;
}
type StartPool = (protocol: 'http', env: Record<string, string>) => Promise<RunningPool>;

const LISTENING = 'listening for invalidations: caches on';
const NOT_LISTENING = 'not listening for invalidations: caches off until it is back';

/**
 * Resolves once each of the pool's `workers` has last said, in its log lines from `from` on, that
 * its LISTEN connection is up (or down): what the healthcheck reports comes from that state.
 */
function listenState(pool: RunningPool, from: number, workers: number, up: boolean): Promise<void> {
  return pool.waitForLog(
    (lines) => {
      const last = new Map<unknown, unknown>();
      for (const l of lines.slice(from))
        if (l.msg === LISTENING || l.msg === NOT_LISTENING) last.set(l.pid, l.msg);
      return last.size === workers && [...last.values()].every((m) => m === (up ? LISTENING : NOT_LISTENING));
    },
    `every worker's LISTEN connection ${up ? 'up' : 'down'}`,
  );
}

const systemLogin = {
  auth: {
    identity: {
      methods: ['password'],
      password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
    },
    scope: { system: { all: true } },
  },
};

/** The body of every 503 the service gives while the database is away. */
function assertUnavailable(status: number, body: unknown, where: string): void {
  assert.equal(status, 503, `${where}: ${JSON.stringify(body)}`);
  assert.deepEqual(body, {
    error: {
      code: 503,
      title: 'Service Unavailable',
      message: 'The service is temporarily unable to reach its database. Please retry later.',
    },
  });
}

/** This test's own cluster, which it stops (fast shutdown, as a restart does) and starts again. */
class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'gatehouse-dbfault-'));
  constructor() {
    chmodSync(this.dir, 0o755); // PostgreSQL runs as the postgres user when the tests run as root
  }
  url = '';
  start(): void {
    const out = execFileSync(pgScript, ['start', join(this.dir, 'pg')], { encoding: 'utf8' });
    const url = /DATABASE_URL=(\S+)/.exec(out)?.[1];
    assert.ok(url, `pg.sh printed no URL: ${out}`);
    assert.ok(this.url === '' || this.url === url, `restarted at ${url}, not ${this.url}`);
    this.url = url;
  }
  stop(): void {
    execFileSync(pgScript, ['stop', join(this.dir, 'pg')]);
  }
  remove(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP relay to PostgreSQL that can refuse new connections (closing them at once) while the ones
 * it carries go on: here, what keeps one app's LISTEN from coming back while its pool does.
 */
async function gate(target: URL): Promise<{ url: string; refuse(on: boolean): void; close(): void }> {
  let refusing = false;
  const live = new Set<Socket>();
  const server: Server = createServer((a) => {
    if (refusing) return void a.destroy();
    const b = createConnection(Number(target.port), target.hostname);
    live.add(a).add(b);
    a.pipe(b);
    b.pipe(a);
    const end = () => {
      live.delete(a);
      live.delete(b);
      a.destroy();
      b.destroy();
    };
    a.on('close', end).on('error', end);
    b.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(target.href);
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.href,
    refuse(on) {
      refusing = on;
    },
    close() {
      for (const s of live) s.destroy();
      server.close();
    },
  };
}

function healthcheck(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [healthcheckBin, '--timeout', '5'],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (err, _stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }),
    );
  });
}

/** How many LISTEN connections of the service the cluster has, on `database`. */
async function listeners(url: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
      [LISTEN_APPLICATION_NAME, database],
    );
    return rows[0]?.n ?? 0;
  } catch {
    return -1;
  } finally {
    await client.end().catch(() => {});
  }
}

const cacheHits = async () =>
  (await tokenValidations.get()).values.find((v) => v.labels.source === 'cache')?.value ?? 0;

describe('PostgreSQL stopped and started under the service', () => {
  const cluster = new Cluster();
  let t: TestDatabase;
  before(async () => {
    cluster.start();
    t = await testDatabase({ cluster: cluster.url, env: { IDENTITY_INVALIDATION_HEARTBEAT: '1' } });
  });
  after(async () => {
    await t?.drop().catch(() => {});
    cluster.remove();
  });

  test('through the gateway: 503 while down, the healthcheck fails, then the pool and LISTEN come back', {
    timeout: 180_000,
  }, async () => {
    const { startPool } = (await import(new URL('pool.js', helpers).href)) as { startPool: StartPool };
    const env = {
      GATEWAY_APP: handlerModule,
      GATEWAY_PM_MAX_CHILDREN: '2',
      DATABASE_URL: t.url,
      IDENTITY_FERNET_KEY_REPOSITORY: t.config.fernetKeyRepository,
      IDENTITY_CREDENTIAL_KEY_REPOSITORY: t.config.credentialKeyRepository,
      IDENTITY_PASSWORD_HASH_ROUNDS: '4',
      IDENTITY_INVALIDATION_HEARTBEAT: '1',
      IDENTITY_DATABASE_CONNECT_TIMEOUT: '2',
      // info: the LISTEN connection's ups and downs, which the test waits on.
      IDENTITY_LOG_LEVEL: 'info',
    };
    const gateway = await startPool('http', env);
    const base = `http://127.0.0.1:${gateway.port}`;
    const check = () =>
      healthcheck({ GATEWAY_PROTOCOL: 'http', GATEWAY_LISTEN: `127.0.0.1:${gateway.port}` });
    const call = async (
      method: string,
      path: string,
      headers: Record<string, string> = {},
      body?: unknown,
    ) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null, text };
    };
    try {
      await listenState(gateway, 0, 2, true);
      const healthy = await check();
      assert.equal(healthy.code, 0, healthy.stderr);
      const login = await call('POST', '/v3/auth/tokens', {}, systemLogin);
      assert.equal(login.status, 201, login.text);
      const admin = login.headers.get('x-subject-token') as string;
      const validate = (token: string) =>
        call('GET', '/v3/auth/tokens', { 'x-auth-token': admin, 'x-subject-token': token });

      // A steady load for the whole outage: every answer is kept, with when it came, and reported.
      const outcomes: Array<{ status: number; text: string; at: number } | { hang: string; at: number }> = [];
      const answered = new EventEmitter();
      let loading = true;
      const loop = async () => {
        while (loading) {
          try {
            const r = await validate(admin);
            outcomes.push({ status: r.status, text: r.text, at: Date.now() });
          } catch (err) {
            outcomes.push({ hang: String(err), at: Date.now() });
          }
          answered.emit('change');
        }
      };
      const loops = [loop(), loop(), loop()];
      await until('answers under load', answered, 'change', () => outcomes.length > 20, 60_000);

      const stoppedAt = gateway.lines.length;
      cluster.stop();
      await listenState(gateway, stoppedAt, 2, false);
      const unhealthy = await check();
      assert.equal(unhealthy.code, 1, unhealthy.stderr);
      assert.match(unhealthy.stderr, /answered 503 "unhealthy: database unreachable/);
      const lost = gateway.lines.slice(stoppedAt).find((l) => l.msg === NOT_LISTENING);
      assert.ok((lost?.err as { message?: string } | undefined)?.message, 'logged with its cause');
      const refused = await validate(admin);
      assertUnavailable(refused.status, refused.body, 'GET /v3/auth/tokens');
      assert.equal(refused.headers.get('retry-after'), '1');
      const loginDown = await call('POST', '/v3/auth/tokens', {}, systemLogin);
      assertUnavailable(loginDown.status, loginDown.body, 'POST /v3/auth/tokens');

      const startedAt = gateway.lines.length;
      cluster.start();
      const restartedAt = Date.now();
      await listenState(gateway, startedAt, 2, true);
      const healthyAgain = await check();
      assert.equal(healthyAgain.code, 0, healthyAgain.stderr);
      const database = new URL(t.url).pathname.slice(1);
      assert.equal(await listeners(cluster.url, database), 2, 'one LISTEN connection a worker');
      await until(
        'a 200 under load',
        answered,
        'change',
        () => outcomes.some((o) => 'status' in o && o.status === 200 && o.at > restartedAt),
        60_000,
      );
      loading = false;
      await Promise.all(loops);

      const hangs = outcomes.filter((o) => 'hang' in o);
      assert.deepEqual(hangs, [], 'no request hung or lost its connection');
      const statuses = new Map<number, number>();
      for (const o of outcomes) if ('status' in o) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      assert.deepEqual(
        [...statuses.keys()].sort(),
        [200, 503],
        `only 200 and 503 under load: ${JSON.stringify([...statuses])}`,
      );
      for (const o of outcomes) {
        if ('status' in o && o.status === 503) assertUnavailable(o.status, JSON.parse(o.text), 'under load');
      }
      // Back for good: nothing fails once the pool has reconnected.
      for (let i = 0; i < 20; i++) assert.equal((await validate(admin)).status, 200);

      // Invalidations flow again: a token revoked through the gateway is refused by every worker.
      const other = await call('POST', '/v3/auth/tokens', {}, systemLogin);
      const token = other.headers.get('x-subject-token') as string;
      for (let i = 0; i < 10; i++) assert.equal((await validate(token)).status, 200);
      const revoked = await call('DELETE', '/v3/auth/tokens', {
        'x-auth-token': admin,
        'x-subject-token': token,
      });
      assert.equal(revoked.status, 204, revoked.text);
      for (let i = 0; i < 20; i++) assert.equal((await validate(token)).status, 404);
      const errors = gateway.lines.filter(
        (l) => l.level === 50 || l.level === 'error' || l.msg === 'request failed',
      );
      assert.deepEqual(errors, [], 'no request failed with an unexpected error');
    } finally {
      gateway.kill();
      await gateway.exited;
    }
  });

  test('the validation cache stays off until LISTEN is back: a token revoked in between is refused', async () => {
    const relay = await gate(new URL(t.url));
    const poolA = createPool(t.url, 4, null, { connectMs: 2000, statementMs: 5000 });
    // A's LISTEN connection goes through the relay, its queries do not; B is another replica.
    const a = await build({ config: { ...t.config, databaseUrl: relay.url }, db: poolA });
    const b = await build({ config: t.config });
    try {
      const login = await a.inject({ method: 'POST', url: '/v3/auth/tokens', payload: systemLogin });
      const admin = login.headers['x-subject-token'] as string;
      const issued = await a.inject({ method: 'POST', url: '/v3/auth/tokens', payload: systemLogin });
      const token = issued.headers['x-subject-token'] as string;
      const validate = (app: FastifyInstance) =>
        app.inject({
          method: 'GET',
          url: '/v3/auth/tokens',
          headers: { 'x-auth-token': admin, 'x-subject-token': token },
        });
      await until(
        'LISTEN to be up in A',
        a.services.invalidation.changes,
        'change',
        () => a.services.invalidation.enabled,
      );
      await until(
        'LISTEN to be up in B',
        b.services.invalidation.changes,
        'change',
        () => b.services.invalidation.enabled,
      );
      assert.equal((await validate(a)).statusCode, 200);
      const hits = await cacheHits();
      assert.equal((await validate(a)).statusCode, 200);
      assert.ok((await cacheHits()) > hits, 'the second validation was a cache hit');

      relay.refuse(true);
      cluster.stop();
      await until(
        "A's LISTEN to be lost",
        a.services.invalidation.changes,
        'change',
        () => !a.services.invalidation.enabled,
      );
      const down = await validate(a);
      assertUnavailable(down.statusCode, down.json(), 'A while down');

      cluster.start();
      const before = await cacheHits();
      // pg.sh start returns once the cluster accepts connections, and the connections the stop
      // ended have left the pools (their 'error'), so the first query connects anew.
      const back = await validate(a);
      assert.equal(back.statusCode, 200, `A's pool reconnects by itself: ${back.body}`);
      assert.equal((await validate(a)).statusCode, 200);
      assert.equal(await cacheHits(), before, 'the cache is off while LISTEN is not back');
      assert.equal(a.services.invalidation.enabled, false);

      // B revokes the token; A cannot hear it.
      const revoked = await b.inject({
        method: 'DELETE',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': token },
      });
      assert.equal(revoked.statusCode, 204, `B's pool reconnects by itself: ${revoked.body}`);
      assert.equal((await validate(a)).statusCode, 404, 'the revoked token is refused by A');
      assert.equal(a.services.invalidation.enabled, false, 'and A was still not listening');

      relay.refuse(false);
      await until(
        "A's LISTEN to be back",
        a.services.invalidation.changes,
        'change',
        () => a.services.invalidation.enabled,
      );
      assert.equal((await validate(a)).statusCode, 404);
      assert.equal((await validate(a)).statusCode, 404);
    } finally {
      await a.close();
      await b.close();
      await poolA.end();
      relay.close();
    }
  });

  test('a connection that cannot be made and a statement that does not end are bounded: 503', async () => {
    // A server that accepts connections and never answers (a frozen host, a dead proxy).
    const held = new Set<Socket>();
    const hole = createServer((s) => void held.add(s));
    hole.listen(0, '127.0.0.1');
    await once(hole, 'listening');
    const url = new URL(t.url);
    url.port = String((hole.address() as { port: number }).port);
    const stuck = await build({ config: { ...t.config, databaseUrl: url.href, databaseConnectTimeout: 1 } });
    // No cache: every validation reads the database.
    const slow = await build({ config: { ...t.config, databaseStatementTimeout: 1 }, cache: false });
    const locker = new pg.Client({ connectionString: t.url });
    try {
      const login = await slow.inject({ method: 'POST', url: '/v3/auth/tokens', payload: systemLogin });
      assert.equal(login.statusCode, 201, login.body);
      const admin = login.headers['x-subject-token'] as string;
      const headers = { 'x-auth-token': admin, 'x-subject-token': admin };

      const res = await stuck.inject({ method: 'GET', url: '/v3/auth/tokens', headers });
      assertUnavailable(res.statusCode, res.json(), 'no connection within the connect timeout');
      assert.equal(stuck.services.invalidation.enabled, false);

      // A lock held by another session: the revocation check waits on it, past the statement timeout.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE revocation_event IN ACCESS EXCLUSIVE MODE');
      const waited = await slow.inject({ method: 'GET', url: '/v3/auth/tokens', headers });
      assertUnavailable(waited.statusCode, waited.json(), 'a statement past the statement timeout');
      await locker.query('ROLLBACK');
      assert.equal((await slow.inject({ method: 'GET', url: '/v3/auth/tokens', headers })).statusCode, 200);
    } finally {
      await locker.end().catch(() => {});
      for (const s of held) s.destroy();
      hole.close();
      await stuck.close();
      await slow.close();
    }
  });
});
