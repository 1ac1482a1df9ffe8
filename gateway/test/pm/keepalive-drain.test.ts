/**
 * Workers leaving the pool (reloads, max requests) while nginx holds kept-alive connections to
 * them and a load of POSTs runs through it. nginx retries a request that failed on a cached
 * connection on another one, but never a POST: a connection the draining worker closes just as
 * nginx hands it a POST is a 502. Every POST sent must come back 2xx, in every mode nginx keeps
 * (or does not keep) connections to the pool in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningNginx, startNginx } from '../helpers/nginx.js';
import { load, type RunningPool, startPool } from '../helpers/pool.js';

const modes = ['fastcgi', 'http', 'uwsgi'] as const;
const RELOADS = 6;
const BODY = 'name=gatehouse&value=1';

for (const mode of modes) {
  describe(`draining workers behind a keep-alive nginx, ${mode}, POSTs`, () => {
    const running: Array<RunningPool | RunningNginx> = [];
    after(async () => {
      for (const r of running) {
        if ('stop' in r) await r.stop();
        else r.kill();
      }
    });

    async function start(
      env: Record<string, string> = {},
    ): Promise<{ gw: RunningPool; nginx: RunningNginx }> {
      const gw = await startPool(mode, env);
      running.push(gw);
      const nginx = await startNginx({ protocol: mode, upstream: gw.upstream });
      running.push(nginx);
      return { gw, nginx };
    }

    let gw: RunningPool;
    let nginx: RunningNginx;
    before(async () => {
      ({ gw, nginx } = await start());
    });

    test(`${RELOADS} reloads under a POST load: every POST answered 2xx`, async () => {
      const stopped = () => gw.lines.filter((l) => l.msg === 'worker stopped').length;
      const result = await load(
        nginx.url,
        { seconds: 120, connections: 8, path: '/hello', body: BODY, untilDone: true },
        async (progress) => {
          for (let i = 1; i <= RELOADS; i++) {
            await progress.served(200);
            const before = stopped();
            gw.child.kill('SIGHUP');
            await gw.waitForCount((l) => l.msg === 'reloading', i);
            // Both workers of the old generation have drained and exited, under the load.
            await gw.waitForCount((l) => l.msg === 'worker stopped', before + 2);
          }
          await progress.served(200);
        },
      );
      assert.ok(result.ok >= 200 * (RELOADS + 1), JSON.stringify(result));
      assert.equal(result.non2xx, 0, `${JSON.stringify(result)}\n${upstreamErrors(nginx)}`);
      assert.equal(result.errors, 0, JSON.stringify(result));
      assert.equal(result.ok, result.total, 'no request lost');
      assert.equal(upstreamErrors(nginx), '');
    });

    test('max requests 150 under a POST load: workers recycle, every POST answered 2xx', async () => {
      const recycling = await start({ GATEWAY_PM_MAX_REQUESTS: '150' });
      const stopped = () => recycling.gw.lines.filter((l) => l.msg === 'worker stopped').length;
      const result = await load(
        recycling.nginx.url,
        { seconds: 120, connections: 8, path: '/hello', body: BODY, untilDone: true },
        async (progress) => {
          // Several workers have reached their maximum, drained and exited under the load.
          await recycling.gw.waitForCount((l) => l.msg === 'worker stopped', 6);
          assert.ok(stopped() >= 6);
          await progress.served(200);
        },
      );
      assert.equal(result.non2xx, 0, `${JSON.stringify(result)}\n${upstreamErrors(recycling.nginx)}`);
      assert.equal(result.errors, 0, JSON.stringify(result));
      assert.equal(result.ok, result.total, 'no request lost');
      assert.equal(upstreamErrors(recycling.nginx), '');
    });
  });
}

/** nginx's complaints about the upstream (a connection closed under a request), if any. */
function upstreamErrors(nginx: RunningNginx): string {
  return nginx
    .errorLog()
    .split('\n')
    .filter((l) => /\[(error|crit)\]/.test(l) && /upstream/.test(l))
    .slice(0, 5)
    .join('\n');
}
