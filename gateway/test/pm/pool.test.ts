/**
 * The process manager under a bounded load on 127.0.0.1: reloads, a killed worker, max requests
 * and SIGTERM fail no request that was not in flight on a dying worker; the status page agrees
 * with the load sent; the terminate timeout answers 504.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { send } from '../helpers/http-client.js';
import { freePort } from '../helpers/nginx.js';

const bin = fileURLToPath(new URL('../../src/bin/gateway.js', import.meta.url));
const app = fileURLToPath(new URL('./app.js', import.meta.url));

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function startGateway(env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [bin], {
    env: {
      ...process.env,
      GATEWAY_PROTOCOL: 'http',
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      GATEWAY_APP: app,
      GATEWAY_PM_MAX_CHILDREN: '2',
      GATEWAY_ACCESS_LOG: 'false',
      GATEWAY_GRACEFUL_TIMEOUT: '5s',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await send(`${url}/gateway/ping`)).status === 200) return { child, url, exited };
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('the gateway did not start');
}

function workers(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function load(url: string, seconds: number, during?: () => Promise<void> | void, amount?: number) {
  const run = autocannon({
    url: `${url}/slow?ms=5`,
    connections: 8,
    duration: seconds,
    ...(amount ? { amount } : {}),
  });
  await during?.();
  const result = await run;
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('process manager', () => {
  const started: Running[] = [];
  after(() => {
    for (const r of started) r.child.kill('SIGKILL');
  });

  test('SIGHUP three times under load: zero failed requests, zero non-2xx', async () => {
    const gw = await startGateway();
    started.push(gw);
    const before = workers(gw.child.pid as number);
    const result = await load(gw.url, 4, async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(900);
        gw.child.kill('SIGHUP');
      }
    });
    assert.equal(result.errors, 0);
    assert.equal(result.non2xx, 0);
    assert.ok(result.ok > 100, `${result.ok} requests`);
    await sleep(500);
    const after = workers(gw.child.pid as number);
    assert.equal(after.length, 2);
    assert.equal(after.filter((p) => before.includes(p)).length, 0, 'a new generation serves');
  });

  test('kill -9 of a worker under load: the pool is back to size within a second', async () => {
    const gw = await startGateway();
    started.push(gw);
    const result = await load(gw.url, 3, async () => {
      await sleep(1000);
      const [victim] = workers(gw.child.pid as number);
      process.kill(victim as number, 'SIGKILL');
      await sleep(1000);
      assert.equal(workers(gw.child.pid as number).length, 2);
    });
    // Only requests in flight on the killed worker may fail: at most the 8 connections' worth.
    assert.ok(result.errors + result.non2xx <= 8, JSON.stringify(result));
    assert.ok(result.ok > 100);
    const metrics = (await send(`${gw.url}/gateway/status?openmetrics`)).body.toString();
    assert.match(metrics, /^gatehouse_worker_restarts_total\{pool="www"\} 1$/m);
  });

  test('max requests 100 under load: workers recycle without a failed request', async () => {
    const gw = await startGateway({ GATEWAY_PM_MAX_REQUESTS: '100' });
    started.push(gw);
    const first = workers(gw.child.pid as number);
    const result = await load(gw.url, 3);
    assert.equal(result.errors, 0);
    assert.equal(result.non2xx, 0);
    assert.ok(result.ok > 300, `${result.ok} requests, so several recycles`);
    assert.equal(workers(gw.child.pid as number).filter((p) => first.includes(p)).length, 0);
  });

  test('the status page counts what was sent', async () => {
    const gw = await startGateway();
    started.push(gw);
    const result = await load(gw.url, 10, undefined, 1500);
    assert.equal(result.total, 1500);
    const status = JSON.parse((await send(`${gw.url}/gateway/status?json&full`)).body.toString());
    assert.equal(status['total processes'], 2);
    assert.equal(status['process manager'], 'static');
    const requests = status.processes.reduce((n: number, p: { requests: number }) => n + p.requests, 0);
    // Every load request, plus the readiness ping; the status request itself is still in flight.
    assert.equal(requests, result.total + 1);
    assert.ok(status['accepted conn'] >= 8);
  });

  test('the terminate timeout answers 504 and frees the worker', async () => {
    const gw = await startGateway({ GATEWAY_REQUEST_TERMINATE_TIMEOUT: '300ms' });
    started.push(gw);
    const startedAt = Date.now();
    const res = await send(`${gw.url}/hang`);
    assert.equal(res.status, 504);
    assert.ok(Date.now() - startedAt < 2000);
    assert.equal((await send(`${gw.url}/hello`)).status, 200);
  });

  test('SIGTERM under load: in-flight requests complete, then the gateway exits 0', async () => {
    const gw = await startGateway();
    const inFlight = send(`${gw.url}/slow?ms=800`);
    await sleep(200);
    gw.child.kill('SIGTERM');
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'slow');
    assert.equal(await gw.exited, 0);
  });
});
