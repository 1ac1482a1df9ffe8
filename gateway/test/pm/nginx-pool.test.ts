/**
 * The process manager's checks through a real nginx, in each protocol mode nginx speaks to the
 * pool (fastcgi, uwsgi, http), under short bounded autocannon loads on 127.0.0.1: reloads, a
 * killed worker, max requests, SIGTERM, a handler that blocks its event loop, and the status page's
 * counters. An ondemand pool behind nginx serves its first request and reloads without a failure;
 * in cgi mode (a process per request) reloads fail nothing either.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { send } from '../helpers/http-client.js';
import { type RunningNginx, startNginx } from '../helpers/nginx.js';
import { checkSlowCount, load, type RunningPool, sleep, startPool, until } from '../helpers/pool.js';

const modes = ['fastcgi', 'uwsgi', 'http'] as const;

for (const mode of modes) {
  describe(`pool behind nginx, ${mode}`, () => {
    let gw: RunningPool;
    let nginx: RunningNginx;
    const others: Array<RunningPool | RunningNginx> = [];
    before(async () => {
      gw = await startPool(mode, {
        GATEWAY_SLOWLOG_TIMEOUT: '500ms',
        GATEWAY_REQUEST_TERMINATE_TIMEOUT: '2s',
      });
      nginx = await startNginx({ protocol: mode, upstream: gw.upstream });
    });
    after(async () => {
      gw.kill();
      await nginx.stop();
      for (const o of others) {
        if ('stop' in o) await o.stop();
        else o.kill();
      }
    });

    test('the status page counts the requests sent', async () => {
      const result = await load(nginx.url, { seconds: 10, amount: 600, connections: 8 });
      assert.equal(result.ok, 600, JSON.stringify(result));
      const status = JSON.parse((await send(`${nginx.url}/gateway/status?json&full`)).body.toString());
      const requests = status.processes.reduce((n: number, p: { requests: number }) => n + p.requests, 0);
      assert.equal(requests, 600, 'every request, none twice (the status request is in flight)');
      assert.equal(status['total processes'], 2);
      assert.equal(status['process manager'], 'static');
      // uwsgi: one connection per request; fastcgi and http keep nginx's connections alive.
      if (mode === 'uwsgi') assert.equal(status['accepted conn'], 601);
      else assert.ok(status['accepted conn'] >= 1 && status['accepted conn'] <= 64, status['accepted conn']);
      // Each slow-logged request counted once (a loaded machine may make a few of them slow).
      await sleep(600);
      checkSlowCount(gw, status['slow requests']);
    });

    test('a handler that blocks its event loop: slow log stack, then the pool is freed', async () => {
      const before = gw.workers();
      const res = await send(`${nginx.url}/block?ms=60000`, { method: 'POST' });
      // The stuck worker is killed with the request on it: nginx sees the connection close.
      assert.equal(res.status, 502);
      const slow = await gw.waitFor((l) => l.msg === 'slow request' && l.uri === '/block?ms=60000');
      assert.equal(slow.method, 'POST');
      assert.equal(slow.blocked, true);
      assert.match(String((slow.stack as string[])[0]), /^blockTheEventLoop \(/);
      await gw.waitFor((l) => l.code === 'GW_ERR_WORKER_STUCK');
      await until(() => gw.workers().length === 2, 2000, 'pool back to size');
      assert.equal(gw.workers().filter((p) => !before.includes(p)).length, 1, 'one worker replaced');
      assert.equal((await send(`${nginx.url}/hello`)).body.toString(), 'hello');
      const status = JSON.parse((await send(`${nginx.url}/gateway/status?json`)).body.toString());
      assert.ok(status['slow requests'] >= 1, 'counted, though its worker has gone');
      await sleep(600);
      checkSlowCount(gw, status['slow requests']);
    });

    test('kill -9 of a worker under load: back to size within a second, only in-flight requests fail', async () => {
      let respawnMs = -1;
      const result = await load(nginx.url, { seconds: 2 }, async () => {
        await sleep(600);
        const [victim] = gw.workers();
        process.kill(victim as number, 'SIGKILL');
        respawnMs = await until(
          () => gw.workers().length === 2 && !gw.workers().includes(victim as number),
          1000,
          'respawn',
        );
      });
      assert.ok(respawnMs >= 0 && respawnMs <= 1000, `${respawnMs} ms`);
      // At most one request per load connection was in flight on the killed worker.
      assert.ok(result.errors + result.non2xx <= 8, JSON.stringify(result));
      assert.ok(result.ok > 100, JSON.stringify(result));
    });

    test('SIGHUP three times under load: zero failed requests, zero non-2xx', async () => {
      const before = gw.workers();
      const result = await load(nginx.url, { seconds: 2 }, async () => {
        for (let i = 0; i < 3; i++) {
          await sleep(450);
          gw.child.kill('SIGHUP');
        }
      });
      assert.equal(result.errors, 0, JSON.stringify(result));
      assert.equal(result.non2xx, 0, JSON.stringify(result));
      assert.ok(result.ok > 100, JSON.stringify(result));
      await until(() => gw.workers().length === 2, 3000, 'old generations gone');
      assert.equal(gw.workers().filter((p) => before.includes(p)).length, 0, 'a new generation serves');
    });

    test('SIGTERM under load: in-flight requests complete, then the gateway exits 0', async () => {
      const inFlight = Promise.all([1, 2, 3].map(() => send(`${nginx.url}/slow?ms=800`)));
      await sleep(200);
      gw.child.kill('SIGTERM');
      for (const res of await inFlight) {
        assert.equal(res.status, 200);
        assert.equal(res.body.toString(), 'slow');
      }
      assert.equal(await gw.exited, 0);
    });

    test('max requests 100 under load: workers recycle without a failed request', async () => {
      const recycling = await startPool(mode, { GATEWAY_PM_MAX_REQUESTS: '100' });
      others.push(recycling);
      const front = await startNginx({ protocol: mode, upstream: recycling.upstream });
      others.push(front);
      const first = recycling.workers();
      const result = await load(front.url, { seconds: 2 });
      assert.equal(result.errors, 0, JSON.stringify(result));
      assert.equal(result.non2xx, 0, JSON.stringify(result));
      assert.ok(result.ok > 300, `${result.ok} requests, so several recycles`);
      // Shared accept spreads connections unevenly: at least one first worker served 100 and went.
      assert.ok(
        recycling.workers().filter((p) => !first.includes(p)).length >= 1,
        'a recycled worker was replaced',
      );
      const recycles = recycling.lines.filter((l) => l.reason === 'max requests reached').length;
      // A worker past its 100 keeps serving until its replacement is ready, so fewer than ok / 100.
      assert.ok(recycles >= 2, `${recycles} recycles for ${result.ok} requests`);
    });
  });
}

describe('ondemand pool behind nginx, fastcgi', () => {
  let gw: RunningPool;
  let nginx: RunningNginx;
  before(async () => {
    gw = await startPool('fastcgi', { GATEWAY_PM: 'ondemand', GATEWAY_PM_PROCESS_IDLE_TIMEOUT: '2s' });
    nginx = await startNginx({ protocol: 'fastcgi', upstream: gw.upstream });
  });
  after(async () => {
    gw.kill();
    await nginx.stop();
  });

  test('the first request starts a worker and is answered', async () => {
    assert.deepEqual(gw.workers(), []);
    const res = await send(`${nginx.url}/hello`);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello');
    assert.equal(gw.workers().length, 1);
  });

  test('SIGHUP three times under load: zero failed requests, zero non-2xx', async () => {
    const result = await load(nginx.url, { seconds: 2 }, async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(450);
        gw.child.kill('SIGHUP');
      }
    });
    assert.equal(result.errors, 0, JSON.stringify(result));
    assert.equal(result.non2xx, 0, JSON.stringify(result));
    assert.ok(result.ok > 100, JSON.stringify(result));
  });
});

describe('pool behind nginx, cgi', () => {
  let gw: RunningPool;
  let nginx: RunningNginx;
  before(async () => {
    const program = fileURLToPath(new URL('../helpers/cgi-plain.js', import.meta.url));
    gw = await startPool('cgi', { GATEWAY_CGI_COMMAND: `${process.execPath} ${program}` });
    nginx = await startNginx({ protocol: 'cgi', upstream: gw.upstream });
  });
  after(async () => {
    gw.kill();
    await nginx.stop();
  });

  test('SIGHUP three times under load: the CGI children in flight finish, nothing fails', async () => {
    const result = await load(nginx.url, { seconds: 2, connections: 2, path: '/info' }, async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(450);
        gw.child.kill('SIGHUP');
      }
    });
    assert.equal(result.errors, 0, JSON.stringify(result));
    assert.equal(result.non2xx, 0, JSON.stringify(result));
    assert.ok(result.ok > 3, JSON.stringify(result));
  });
});
