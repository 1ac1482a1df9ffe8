/**
 * Nothing an app does ends its worker: every misbehaviour of test/helpers/misbehaving-app.ts,
 * fired at once at a pool of one worker behind nginx, ends its own request (500 when no head was
 * sent, a response cut short otherwise), is logged with its cause, and the worker (same pid)
 * serves its concurrent requests throughout, in every mode that runs a request listener. That
 * includes exceptions thrown later from timers, emitters and promises the listener started; one
 * that belongs to no request has the worker replaced after its requests finish. With the request
 * scope turned off (GATEWAY_REQUEST_SCOPE=false), a later throw belongs to no request either.
 *
 * A listener's rejected promise is caught where the protocol server gets the promise: those cases
 * run in the pool and against a protocol server alone.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Protocol } from '../../src/config.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import misbehavingApp from '../helpers/misbehaving-app.js';
import { startNginx } from '../helpers/nginx.js';
import { type RunningPool, startPool } from '../helpers/pool.js';

const app = fileURLToPath(new URL('../helpers/misbehaving-app.js', import.meta.url));

interface Outcome {
  status: number;
  body: string;
  /** The response arrived whole (false: the connection was cut inside it). */
  complete: boolean;
}

function get(url: string, signal?: AbortSignal): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (complete: boolean) =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), complete });
      res.on('end', () => done(res.complete));
      res.on('error', () => done(false));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the client must see: a status and body, or a response that fails ('cut'). */
const expected: Record<string, { status: number; body?: string } | 'cut'> = {
  '/throw': { status: 500, body: 'Internal Server Error' },
  '/wrong-type': { status: 500, body: 'Internal Server Error' },
  '/wrong-view': { status: 500, body: 'Internal Server Error' },
  '/bad-header': { status: 500, body: 'Internal Server Error' },
  '/bad-hints': { status: 500, body: 'Internal Server Error' },
  '/end-twice': { status: 200, body: 'once' },
  '/write-after-end': { status: 200, body: 'ended' },
  '/write-after-end-later': { status: 200, body: 'ended' },
  '/emit-error': { status: 200, body: 'after the error' },
  '/typed-arrays': { status: 200, body: 'hello, world' },
  '/early-hints': { status: 200, body: 'after hints' },
  '/throw-in-timer': { status: 500, body: 'Internal Server Error' },
  '/reject-in-timer': { status: 500, body: 'Internal Server Error' },
  '/emitter-error-later': { status: 500, body: 'Internal Server Error' },
  '/throw-after-end': { status: 200, body: 'ended' },
  '/throw-in-timer-after-head': 'cut',
  // No head reached nginx: it answers 502 itself, in every mode.
  '/destroy-before-head': { status: 502 },
  '/socket-error': { status: 502 },
  '/throw-after-head': 'cut',
  '/destroy': 'cut',
  '/destroy-with-error': 'cut',
};

/** Listeners that fail through the promise they return. */
const rejections: typeof expected = {
  '/reject': { status: 500, body: 'Internal Server Error' },
  '/reject-after-head': 'cut',
};

async function check(base: string, cases: typeof expected): Promise<void> {
  const paths = Object.keys(cases);
  const outcomes = await Promise.all(paths.map((path) => get(`${base}${path}`)));
  for (const [i, path] of paths.entries()) {
    const want = cases[path];
    const got = outcomes[i] as Outcome;
    if (want === 'cut') {
      // Cut inside its body; or, where nothing had left the worker yet (node:http writes a head
      // and the first chunk on the next tick), nginx's own 502: either way never a whole response.
      const failed = got.status === 502 || (got.status === 200 && !got.complete);
      assert.ok(failed, `${path}: cut short, got ${JSON.stringify(got)}`);
      continue;
    }
    assert.equal(got.status, want?.status, `${path}: ${JSON.stringify(got)}`);
    if (want?.body !== undefined) assert.equal(got.body, want.body, path);
    assert.ok(got.complete, path);
  }
}

const modes: Protocol[] = ['fastcgi', 'uwsgi', 'http'];

for (const mode of modes) {
  describe(`${mode}: an app's failures end its request, never its worker`, () => {
    let pool: RunningPool;
    let nginx: Awaited<ReturnType<typeof startNginx>>;
    before(async () => {
      pool = await startPool(mode, { GATEWAY_APP: app, GATEWAY_PM: 'static', GATEWAY_PM_MAX_CHILDREN: '1' });
      nginx = await startNginx({ protocol: mode, upstream: pool.upstream });
    });
    after(async () => {
      await nginx?.stop();
      pool?.kill();
      await pool?.exited;
    });

    test('every misbehaviour at once, beside a hanging request and a slow one', async () => {
      const [worker] = pool.workers();
      assert.ok(worker, 'one worker');
      const first = await get(`${nginx.url}/hello`);
      assert.equal(first.body, `hello from ${worker}`);

      const hanging = new AbortController();
      const hang = get(`${nginx.url}/hang`, hanging.signal).catch((err: Error) => err);
      const slow = get(`${nginx.url}/slow?ms=300`);
      await check(nginx.url, { ...expected, ...rejections });
      assert.deepEqual(await slow, { status: 200, body: 'slow', complete: true });
      // The hanging request holds nothing up; its client leaving ends it.
      hanging.abort();
      assert.ok((await hang) instanceof Error);

      // The same worker, still serving.
      const last = await get(`${nginx.url}/hello`);
      assert.equal(last.body, `hello from ${worker}`);
      assert.deepEqual(pool.workers(), [worker]);
      assert.equal(pool.lines.filter((l) => l.msg === 'worker exited unexpectedly').length, 0);

      // Each failure is logged with the app's own error.
      for (const message of [
        'thrown synchronously',
        'thrown with the head sent',
        'thrown from a timer',
        'thrown from a timer with the head sent',
        'rejected in a timer, unhandled',
        'an emitter error nobody listens to',
        'thrown after the response ended',
        'thrown after an await',
      ]) {
        const line = await pool.waitFor(
          (l) => l.msg === 'request listener failed' && (l.err as { message?: string })?.message === message,
        );
        assert.equal(line.code, 'GW_ERR_HANDLER');
      }
      await pool.waitFor(
        (l) =>
          l.msg === 'response error' && (l.err as { code?: string })?.code === 'ERR_STREAM_WRITE_AFTER_END',
      );
    });

    test('an exception no request owns: the worker is replaced, its requests finish first', async () => {
      const [worker] = pool.workers();
      const slow = get(`${nginx.url}/slow?ms=300`);
      assert.deepEqual(await get(`${nginx.url}/escape`), { status: 200, body: 'scheduled', complete: true });
      const uncaught = await pool.waitFor(
        (l) =>
          l.code === 'GW_ERR_UNCAUGHT' &&
          (l.err as { message?: string })?.message === 'thrown outside any request',
      );
      assert.equal(uncaught.pid, worker);
      await pool.waitFor(
        (l) =>
          l.msg === 'replacing worker' &&
          l.reason === 'an exception escaped every request' &&
          l.pid === worker,
      );
      // The request in flight on the old worker completes; then the old worker is gone.
      assert.deepEqual(await slow, { status: 200, body: 'slow', complete: true });
      await pool.waitFor((l) => l.msg === 'worker stopped' && l.pid === worker);
      const next = await get(`${nginx.url}/hello`);
      assert.equal(next.status, 200);
      assert.notEqual(next.body, `hello from ${worker}`);
      assert.equal(pool.lines.filter((l) => l.msg === 'worker exited unexpectedly').length, 0);
    });
  });
}

describe('fastcgi, GATEWAY_REQUEST_SCOPE=false: what turning the request scope off loses', () => {
  let pool: RunningPool;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  before(async () => {
    pool = await startPool('fastcgi', {
      GATEWAY_APP: app,
      GATEWAY_PM: 'static',
      GATEWAY_PM_MAX_CHILDREN: '1',
      GATEWAY_REQUEST_SCOPE: 'false',
      GATEWAY_GRACEFUL_TIMEOUT: '2s',
    });
    nginx = await startNginx({ protocol: 'fastcgi', upstream: pool.upstream });
  });
  after(async () => {
    await nginx?.stop();
    pool?.kill();
    await pool?.exited;
  });

  test('what a listener throws synchronously still fails its request only', async () => {
    const [worker] = pool.workers();
    assert.deepEqual(await get(`${nginx.url}/throw`), {
      status: 500,
      body: 'Internal Server Error',
      complete: true,
    });
    assert.equal((await get(`${nginx.url}/hello`)).body, `hello from ${worker}`);
  });

  test('a throw from its timer belongs to no request: the worker is replaced, the request cut at the deadline', async () => {
    const [worker] = pool.workers();
    const outcome = get(`${nginx.url}/throw-in-timer`);
    // Not the request's failure (the scoped worker answers it 500 at once): the process's.
    const uncaught = await pool.waitFor(
      (l) =>
        l.code === 'GW_ERR_UNCAUGHT' && (l.err as { message?: string })?.message === 'thrown from a timer',
    );
    assert.equal(uncaught.pid, worker);
    await pool.waitFor(
      (l) =>
        l.msg === 'replacing worker' && l.reason === 'an exception escaped every request' && l.pid === worker,
    );
    // Nobody answers the request: it stays in flight on the draining worker until the drain
    // deadline closes its connection, and nginx answers 502 itself.
    const deadline = await pool.waitFor((l) => l.msg === 'drain deadline passed, closing what is left');
    assert.equal(deadline.pid, worker);
    assert.equal(deadline.inFlight, 1);
    assert.equal((await outcome).status, 502);
    assert.equal(pool.lines.filter((l) => l.msg === 'request listener failed').length, 1, 'only /throw');
    await pool.waitFor((l) => l.msg === 'worker stopped' && l.pid === worker);
    const next = await get(`${nginx.url}/hello`);
    assert.equal(next.status, 200);
    assert.notEqual(next.body, `hello from ${worker}`);
  });
});

for (const mode of modes) {
  describe(`${mode}: a listener's rejected promise ends its request`, () => {
    let gateway: TestGateway;
    let nginx: Awaited<ReturnType<typeof startNginx>>;
    before(async () => {
      gateway = await startGateway({ protocol: mode, listener: await misbehavingApp() });
      nginx = await startNginx({ protocol: mode, upstream: gateway.upstream });
    });
    after(async () => {
      await nginx?.stop();
      await gateway?.close();
    });

    test('500 before the head, cut short after it, the cause logged', async () => {
      const slow = get(`${nginx.url}/slow?ms=200`);
      await check(nginx.url, rejections);
      assert.deepEqual(await slow, { status: 200, body: 'slow', complete: true });
      const failures = gateway.logLines
        .map((line) => JSON.parse(line) as { msg: string; err?: { message?: string } })
        .filter((l) => l.msg === 'request listener failed')
        .map((l) => l.err?.message)
        .sort();
      assert.deepEqual(failures, ['thrown after an await', 'thrown after an await with the head sent']);
    });
  });
}
