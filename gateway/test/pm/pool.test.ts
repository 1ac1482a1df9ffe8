/**
 * The process manager on its own, in the gateway's HTTP mode, on 127.0.0.1 (reloads, a killed
 * worker, max requests and SIGTERM under load are checked through nginx, per protocol, in
 * nginx-pool.test.ts): the status page agrees with the load sent; the terminate timeout answers
 * 504; a blocked event loop gets its stack in the slow log and its worker replaced; the listen
 * queue shows connections the kernel holds; dynamic and ondemand pools grow and shrink; workers
 * told to stop while their app still loads (a reload upon a reload) stop without ever serving;
 * an app that does not load stops the gateway with one line naming the cause, last in its log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { send } from '../helpers/http-client.js';
import { freePort } from '../helpers/nginx.js';
import { checkSlowCountLogged, gatewayBin, load, type RunningPool, startPool } from '../helpers/pool.js';

describe('process manager', () => {
  const started: RunningPool[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const pool = await startPool('http', env);
    started.push(pool);
    return { ...pool, url: `http://${pool.upstream}` };
  };
  after(() => {
    for (const p of started) p.kill();
  });

  test('an app that does not load: every worker gone, then one line naming the cause ends the log', async () => {
    const app = join(tmpdir(), 'gw-no-such-app', 'index.js');
    const child = spawn(process.execPath, [gatewayBin], {
      env: {
        ...process.env,
        GATEWAY_PROTOCOL: 'http',
        GATEWAY_LISTEN: `127.0.0.1:${await freePort()}`,
        GATEWAY_APP: app,
        GATEWAY_PM: 'static',
        // Several workers failing at once: none of their lines may follow the master's.
        GATEWAY_PM_MAX_CHILDREN: '6',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    const [code] = await once(child, 'close');
    assert.equal(code, 1);
    const lines = Buffer.concat(chunks).toString().trimEnd().split('\n');
    const last = lines.at(-1) as string;
    assert.match(
      last,
      /^the application module could not be loaded: /,
      `the last line:\n${lines.join('\n')}`,
    );
    assert.ok(last.includes(app), last);
    // The worker that failed first wrote its cause, with the stack, before the master heard of it.
    const logged = lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = logged.find((l) => l.msg === 'application failed to load');
    assert.equal((failed?.err as { code?: string } | undefined)?.code, 'GW_ERR_APP_LOAD', lines.join('\n'));
    assert.ok(logged.some((l) => l.msg === 'worker exited'));
  });

  test('the status page counts what was sent', async () => {
    const gw = await start();
    const result = await load(gw.url, { seconds: 10, amount: 1500 });
    assert.equal(result.total, 1500);
    const status = JSON.parse((await send(`${gw.url}/gateway/status?json&full`)).body.toString());
    assert.equal(status['total processes'], 2);
    assert.equal(status['process manager'], 'static');
    const requests = status.processes.reduce((n: number, p: { requests: number }) => n + p.requests, 0);
    // Every load request; the status request itself is still in flight.
    assert.equal(requests, result.total);
    assert.ok(status['accepted conn'] >= 8);
  });

  test('a reload while the last one still loads: its workers stop before they listen, exit 0', async () => {
    const gate = mkdtempSync(join(tmpdir(), 'gw-load-gate-'));
    try {
      const gw = await start({ POOL_APP_LOAD_GATE: gate });
      await gw.waitForCount((l) => l.msg === 'worker ready', 2);
      const first = gw.workers();
      writeFileSync(join(gate, 'armed'), '');
      gw.child.kill('SIGHUP');
      await gw.waitForCount((l) => l.msg === 'app loading held', 2);
      const held = gw.lines.filter((l) => l.msg === 'app loading held').map((l) => l.pid as number);
      // The next generation loads at once; once it is ready, the master tells the first generation
      // and the held one to stop.
      rmSync(join(gate, 'armed'));
      gw.child.kill('SIGHUP');
      await gw.waitForWorkers((pids) => first.every((p) => !pids.includes(p)), 'first generation gone');
      for (const pid of held) writeFileSync(join(gate, `release-${pid}`), '');
      await gw.waitForWorkers((pids) => held.every((p) => !pids.includes(p)), 'held workers gone');
      for (const pid of held) {
        const exit = gw.lines.find((l) => l.msg === 'worker exited' && l.workerPid === pid);
        // Not killed at the drain deadline: told to stop, it stopped.
        assert.deepEqual([exit?.exit, exit?.signal], [0, null], JSON.stringify(exit));
        const stopped = gw.lines.find((l) => l.msg === 'worker stopped' && l.pid === pid);
        assert.equal(stopped?.requests, 0, 'it never served');
      }
      assert.equal((await send(`${gw.url}/hello`)).body.toString(), 'hello');
      assert.equal(gw.workers().length, 2);
    } finally {
      rmSync(gate, { recursive: true, force: true });
    }
  });

  test('the terminate timeout answers 504 and frees the worker', async () => {
    const gw = await start({ GATEWAY_REQUEST_TERMINATE_TIMEOUT: '300ms' });
    // /hang never answers: a 504 is the terminate timeout's.
    const res = await send(`${gw.url}/hang`);
    assert.equal(res.status, 504);
    assert.equal((await send(`${gw.url}/hello`)).status, 200);
  });

  test('a blocked event loop: the slow log shows its stack, and the stuck worker is replaced', async () => {
    const gw = await start({
      GATEWAY_PM_MAX_CHILDREN: '1',
      GATEWAY_SLOWLOG_TIMEOUT: '200ms',
      GATEWAY_REQUEST_TERMINATE_TIMEOUT: '1s',
    });
    const [stuck] = gw.workers();
    const res = await send(`${gw.url}/block?ms=60000`).catch((err: Error) => err);
    // The worker is killed with the request on it: the connection closes without an answer.
    assert.ok(res instanceof Error, 'no answer from a killed worker');
    const slow = await gw.waitFor((l) => l.msg === 'slow request' && l.uri === '/block?ms=60000');
    assert.equal(slow.blocked, true);
    assert.equal(slow.method, 'GET');
    assert.ok((slow.durationMs as number) >= 200);
    assert.equal(typeof slow.worker, 'number');
    assert.match(String((slow.stack as string[])[0]), /^blockTheEventLoop \(file:.*\/pm\/app\.js:\d+:\d+\)$/);
    const killed = await gw.waitFor((l) => l.code === 'GW_ERR_WORKER_STUCK');
    assert.equal(killed.workerPid, stuck);
    // The pool is freed: a fresh worker answers.
    await gw.waitForWorkers((pids) => pids.length === 1 && pids[0] !== stuck, 'replacement');
    assert.equal((await send(`${gw.url}/hello`)).body.toString(), 'hello');
    const status = JSON.parse((await send(`${gw.url}/gateway/status?json`)).body.toString());
    assert.ok(status['slow requests'] >= 1, 'counted, though its worker has gone');
    await checkSlowCountLogged(gw, status['slow requests']);
  });

  test('a request waiting on a timer is slow-logged without a stack, the loop not blocked', async () => {
    const gw = await start({ GATEWAY_SLOWLOG_TIMEOUT: '100ms' });
    let answered = false;
    const res = send(`${gw.url}/slow?ms=5000`).then((r) => {
      answered = true;
      return r;
    });
    const slow = await gw.waitFor((l) => l.msg === 'slow request');
    // Logged at the slow-log timeout, while the request still waits on its timer.
    assert.equal(answered, false, 'logged before the answer');
    assert.equal(slow.uri, '/slow?ms=5000');
    assert.equal(slow.blocked, false);
    assert.deepEqual(slow.stack, []);
    assert.ok((slow.durationMs as number) >= 100 && (slow.durationMs as number) < 5000);
    assert.equal((await res).status, 200);
  });

  test('listen queue: connections the kernel holds while the only worker is blocked', async () => {
    const gw = await start({ GATEWAY_PM_MAX_CHILDREN: '1', GATEWAY_BACKLOG: '64' });
    const blocked = send(`${gw.url}/block?ms=1200&announce=1`);
    // The only worker's loop is blocked from this line on.
    await gw.waitFor((l) => l.msg === 'app request started');
    const waiting: Socket[] = [];
    for (let i = 0; i < 5; i++) waiting.push(connect(gw.port, '127.0.0.1'));
    assert.equal((await blocked).body.toString(), 'unblocked');
    const status = JSON.parse((await send(`${gw.url}/gateway/status?json`)).body.toString());
    for (const s of waiting) s.destroy();
    assert.equal(status['listen queue len'], 64);
    assert.ok(status['max listen queue'] >= 5, JSON.stringify(status));
    assert.ok(status['listen queue'] >= 0 && status['listen queue'] <= 64);
  });

  test('dynamic: grows while its workers are busy, shrinks back to max spare when idle', async () => {
    const gw = await start({
      GATEWAY_PM: 'dynamic',
      GATEWAY_PM_MAX_CHILDREN: '3',
      GATEWAY_PM_START_SERVERS: '1',
      GATEWAY_PM_MIN_SPARE_SERVERS: '1',
      GATEWAY_PM_MAX_SPARE_SERVERS: '1',
      GATEWAY_PM_BUSY_UTILIZATION: '50',
    });
    assert.equal(gw.workers().length, 1);
    // Every request blocks its worker for 50 ms: utilisation near 1, so the pool forks.
    const busy = { seconds: 60, connections: 4, path: '/block?ms=50', untilDone: true };
    const result = await load(gw.url, busy, async () => {
      await gw.waitForWorkers((pids) => pids.length >= 2, 'dynamic growth');
    });
    assert.equal(result.errors + result.non2xx, 0, JSON.stringify(result));
    await gw.waitForWorkers((pids) => pids.length === 1, 'dynamic shrink to max spare');
    const status = JSON.parse((await send(`${gw.url}/gateway/status?json`)).body.toString());
    assert.equal(status['process manager'], 'dynamic');
    assert.equal(status['total processes'], 1);
  });

  test('ondemand: no worker until the first connection, which is served; idle workers stop', async () => {
    const gw = await start({ GATEWAY_PM: 'ondemand', GATEWAY_PM_PROCESS_IDLE_TIMEOUT: '500ms' });
    assert.deepEqual(gw.workers(), []);
    const res = await send(`${gw.url}/hello`);
    assert.equal(res.body.toString(), 'hello');
    assert.equal(gw.workers().length, 1);
    await gw.waitForWorkers((pids) => pids.length === 0, 'idle worker stopped');
    // The socket stays with the master: the next connection starts a worker again.
    assert.equal((await send(`${gw.url}/slow?ms=10`)).body.toString(), 'slow');
    const result = await load(gw.url, { seconds: 60, untilDone: true }, async (progress) => {
      await progress.served(30);
      gw.child.kill('SIGHUP');
      await gw.waitFor((l) => l.msg === 'reloading');
      await progress.served(30);
    });
    assert.equal(result.errors + result.non2xx, 0, JSON.stringify(result));
    const status = JSON.parse((await send(`${gw.url}/gateway/status?json`)).body.toString());
    assert.equal(status['process manager'], 'ondemand');
    assert.ok(status['accepted conn'] >= 2 + 8, JSON.stringify(status));
  });

  test('ondemand: a worker with a blocked event loop counts as busy, so a second one takes new connections', async () => {
    // The slow log fires 400 ms into the block: by then the worker's heartbeat is late (300 ms).
    const gw = await start({
      GATEWAY_PM: 'ondemand',
      GATEWAY_PM_MAX_CHILDREN: '2',
      GATEWAY_SLOWLOG_TIMEOUT: '400ms',
    });
    assert.equal((await send(`${gw.url}/hello`)).body.toString(), 'hello');
    const [first] = gw.workers();
    let unblocked = false;
    const blocked = send(`${gw.url}/block?ms=10000`).then((r) => {
      unblocked = true;
      return r;
    });
    await gw.waitFor((l) => l.msg === 'slow request' && l.blocked === true);
    const res = await send(`${gw.url}/hello`);
    // Answered by the second worker while the first was still blocked.
    assert.equal(unblocked, false, 'answered while the first worker was blocked');
    assert.equal(res.body.toString(), 'hello');
    assert.equal(gw.workers().length, 2);
    assert.ok(gw.workers().includes(first as number));
    assert.equal((await blocked).body.toString(), 'unblocked');
  });
});
