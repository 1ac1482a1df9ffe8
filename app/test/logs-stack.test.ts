/**
 * The logs an operator reads, through the whole stack (nginx, the gateway in FastCGI mode, this
 * service and PostgreSQL, started by scripts/stack.sh): one request id in nginx's, the gateway's
 * and the app's lines; a failed login logged with its reason; a 500 logged with its cause and
 * stack; and no line holding a password or a token.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import parse from 'parse-prometheus-text-format';
import { untilWorkersStopped, untilWritten } from './events.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const logs = `${root}/.stack/logs`;
const stack = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(script, args, { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });

type Line = Record<string, unknown>;
const read = (file: string): Line[] => {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
};
const nginxLines = () => read(`${logs}/nginx-access.log`);
const gatewayLines = () => read(`${logs}/gateway.log`);
const rawLogs = () =>
  ['nginx-access.log', 'gateway.log', 'nginx-error.log']
    .map((f) => (existsSync(`${logs}/${f}`) ? readFileSync(`${logs}/${f}`, 'utf8') : ''))
    .join('\n');

/** Waits for lines to be written (the logs are asynchronous): checked on each write to the logs. */
const waitFor = (what: string, check: () => boolean): Promise<void> =>
  untilWritten(`${what} to be logged`, logs, check, 10_000, () => `the logs:\n${rawLogs()}`);

const ID = /^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
const WRONG_PASSWORD = 'not-the-password-9f3c1';

describe('logs through nginx, the gateway and the app', {
  skip: existsSync(script) ? false : 'scripts/stack.sh is absent',
}, () => {
  let url = '';
  let password = '';
  before(() => {
    const started = stack(['start', '--protocol', 'fastcgi'], {
      GATEWAY_ACCESS_LOG: 'true',
      // Every query is "slow": the pool's lines must carry the request's id too.
      IDENTITY_SLOW_QUERY_MS: '0',
      IDENTITY_LOG_LEVEL: 'info',
    });
    assert.equal(started.status, 0, started.stderr);
    url = /^GATEHOUSE_URL=(.*)$/m.exec(started.stdout)?.[1] ?? '';
    password = /^export OS_PASSWORD=(.*)$/m.exec(started.stdout)?.[1] ?? '';
    assert.ok(url && password);
  });
  after(() => stack(['stop']));

  const login = (pw: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: pw } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
  const tokens: string[] = [];

  test("one id: nginx's request id is the gateway's and the app's, and the client's is kept as the global id", async () => {
    const global = 'req-0b7e6d2c-1f4a-4c3e-9a8b-7c6d5e4f3a2b';
    const res = await login(password, { 'x-openstack-request-id': global });
    assert.equal(res.status, 201);
    const token = res.headers.get('x-subject-token') ?? '';
    tokens.push(token);
    const id = res.headers.get('x-openstack-request-id') ?? '';
    assert.match(id, ID);
    assert.notEqual(id, global, 'Keystone keeps its own request id (oslo.middleware)');
    assert.equal(res.headers.get('x-request-id'), id, "nginx's X-Request-Id is the app's id");

    // A validation with the token: X-Auth-Token and X-Subject-Token both carry it.
    const check = await fetch(`${url}/v3/auth/tokens`, {
      headers: { 'x-auth-token': token, 'x-subject-token': token },
    });
    assert.equal(check.status, 200);
    tokens.push(check.headers.get('x-subject-token') ?? '');

    await waitFor('the request in all three logs', () => {
      const g = gatewayLines().filter((l) => l.requestId === id);
      return (
        nginxLines().some((l) => l.requestId === id) &&
        g.some((l) => l.msg === 'access') &&
        g.some((l) => l.role === 'app' && l.msg === 'request completed')
      );
    });
    const n = nginxLines().find((l) => l.requestId === id) as Line;
    assert.equal(n.status, 201);
    assert.equal(n.globalRequestId, global);
    const mine = gatewayLines().filter((l) => l.requestId === id);
    const access = mine.find((l) => l.msg === 'access') as Line;
    assert.equal(access.role, 'worker');
    assert.equal(access.status, 201);
    const app = mine.filter((l) => l.role === 'app');
    assert.ok(
      app.some((l) => l.msg === 'slow query'),
      'the database lines carry the request id',
    );
    const completed = app.find((l) => l.msg === 'request completed') as Line;
    assert.equal(completed.status, 201);
    assert.equal(completed.route, '/v3/auth/tokens');
    assert.equal(completed.globalRequestId, global);
    for (const l of mine) {
      assert.equal(typeof l.level, 'string');
      assert.match(String(l.time), /^\d{4}-\d\d-\d\dT/);
      assert.equal(typeof l.pid, 'number');
    }
  });

  test("a client-sent id that is not in Keystone's form is not honoured", async () => {
    const res = await login(password, { 'x-openstack-request-id': 'req-"injected","level":"error' });
    assert.equal(res.status, 201);
    tokens.push(res.headers.get('x-subject-token') ?? '');
    const id = res.headers.get('x-openstack-request-id') ?? '';
    await waitFor('the request', () =>
      gatewayLines().some((l) => l.requestId === id && l.msg === 'request completed'),
    );
    const app = gatewayLines().filter((l) => l.requestId === id && l.role === 'app');
    assert.ok(app.length > 0);
    for (const l of app) assert.equal(l.globalRequestId, undefined);
  });

  test('a failed login is logged with its reason, under its request id', async () => {
    const res = await login(WRONG_PASSWORD);
    assert.equal(res.status, 401);
    const id = res.headers.get('x-openstack-request-id') ?? '';
    await waitFor('the failed login', () =>
      gatewayLines().some((l) => l.requestId === id && l.msg === 'authentication failed'),
    );
    const line = gatewayLines().find((l) => l.requestId === id && l.msg === 'authentication failed') as Line;
    assert.equal(line.level, 'warn');
    assert.match(String(line.reason), /^wrong password for user [0-9a-f]{32}$/);
  });

  test("the app's metrics, added up across workers, on the pool's OpenMetrics page, and kept across a reload", async () => {
    const scrape = async () => {
      const text = await (await fetch(`${url}/gateway/status?openmetrics`)).text();
      assert.match(text, /\n# EOF\n$/);
      assert.equal(text.match(/^# EOF$/gm)?.length, 1, 'one # EOF, at the end');
      const out = new Map<string, number>();
      for (const family of parse(text))
        for (const sample of family.metrics) {
          const labels = Object.entries(sample.labels ?? {})
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          if (sample.value !== undefined) out.set(`${family.name}{${labels}}`, Number(sample.value));
          // The parser gathers a histogram's samples into one: count, sum and buckets.
          if (sample.count !== undefined) out.set(`${family.name}_count{${labels}}`, Number(sample.count));
          if (sample.sum !== undefined) out.set(`${family.name}_sum{${labels}}`, Number(sample.sum));
        }
      return out;
    };
    const logins = 'identity_http_requests_total{method=POST,route=/v3/auth/tokens,status=201}';
    const before = await scrape();
    assert.ok((before.get(logins) ?? 0) >= 2, `the logins so far are counted: ${before.get(logins)}`);
    assert.ok((before.get('identity_token_validations_total{source=validated}') ?? 0) >= 1);
    assert.ok(before.has('identity_password_hash_queue_length{}'));
    assert.ok((before.get('identity_password_hash_wait_seconds_count{}') ?? 0) >= 2);
    // parse-prometheus-text-format 1.1.1 drops a labelled histogram's labels, count and sum: that
    // line is read from the text itself.
    const text = await (await fetch(`${url}/gateway/status?openmetrics`)).text();
    const latency =
      /^identity_http_request_duration_seconds_count\{method="POST",route="\/v3\/auth\/tokens"\} (\d+)$/m;
    assert.ok(Number(latency.exec(text)?.[1]) >= 2, 'the latency histogram has the logins');
    // A reload replaces every worker: what the old ones counted must stay.
    const pids = async () =>
      (
        (await (await fetch(`${url}/gateway/status?json&full`)).json()) as {
          processes: Array<{ pid: number }>;
        }
      ).processes.map((p) => p.pid);
    const old = await pids();
    assert.equal(stack(['reload']).status, 0);
    // Replaced: the old workers drained and stopped (each logs it), and as many new ones report.
    await untilWorkersStopped(logs, old, 20_000);
    const now = await pids();
    assert.ok(
      now.length === old.length && !now.some((pid) => old.includes(pid)),
      'the reload replaced the workers',
    );
    const res = await login(password);
    assert.equal(res.status, 201);
    tokens.push(res.headers.get('x-subject-token') ?? '');
    const after = await scrape();
    for (const [name, value] of before) {
      if (!/_(total|count|sum|bucket)\{/.test(name)) continue;
      assert.ok(
        (after.get(name) ?? -1) >= value,
        `${name}: ${value} before the reload, ${after.get(name)} after`,
      );
    }
    assert.equal(after.get(logins), (before.get(logins) ?? 0) + 1);
  });

  test('a 500 is logged with its cause and stack', async () => {
    // A real failure under the running app, not a stub: the table logins read is renamed away
    // (by the cluster's superuser) for one request.
    const url = /^DATABASE_URL=(.*)$/m.exec(
      spawnSync(`${root}/scripts/pg.sh`, ['url', `${root}/.stack/pg`, 'postgres'], { encoding: 'utf8' })
        .stdout,
    )?.[1] as string;
    const psql = (sql: string) =>
      spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
    assert.equal(psql('ALTER TABLE password RENAME TO password_away').status, 0);
    let res: Response;
    try {
      res = await login(password);
    } finally {
      assert.equal(psql('ALTER TABLE password_away RENAME TO password').status, 0);
    }
    assert.equal(res.status, 500);
    const body = (await res.json()) as { error: { code: number; title: string; message: string } };
    assert.deepEqual(body.error.code, 500);
    assert.doesNotMatch(body.error.message, /password_away|relation|postgres/i, 'the cause stays in the log');
    const id = res.headers.get('x-openstack-request-id') ?? '';
    await waitFor('the failure', () =>
      gatewayLines().some((l) => l.requestId === id && l.msg === 'request failed'),
    );
    const line = gatewayLines().find((l) => l.requestId === id && l.msg === 'request failed') as Line;
    assert.equal(line.level, 'error');
    const err = line.err as { message: string; stack: string; type: string };
    assert.match(err.message, /password/);
    assert.match(err.stack, /\n\s+at /, 'the stack is logged');
  });

  test("the database away is Keystone's 503, logged with its cause", async () => {
    const pg = spawnSync(`${root}/scripts/pg.sh`, ['stop', `${root}/.stack/pg`], { encoding: 'utf8' });
    assert.equal(pg.status, 0, pg.stderr);
    const res = await login(password);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: number; title: string; message: string } };
    assert.equal(body.error.code, 503);
    assert.doesNotMatch(body.error.message, /ECONNREFUSED|connect|postgres/i, 'the cause stays in the log');
    const id = res.headers.get('x-openstack-request-id') ?? '';
    await waitFor('the outage', () =>
      gatewayLines().some((l) => l.requestId === id && l.msg === 'database unavailable'),
    );
    const line = gatewayLines().find((l) => l.requestId === id && l.msg === 'database unavailable') as Line;
    assert.equal(line.level, 'warn');
    assert.ok((line.err as { message: string }).message.length > 0);
  });

  test('no line holds a password or a token', async () => {
    await waitFor('every request logged', () => nginxLines().length >= 5);
    const text = rawLogs();
    assert.ok(tokens.length >= 3 && tokens.every((t) => t.length > 100));
    for (const secret of [password, WRONG_PASSWORD, ...tokens])
      assert.ok(!text.includes(secret), `a log line holds ${secret.slice(0, 12)}…`);
  });
});
