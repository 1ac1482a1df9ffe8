/**
 * The FastCGI gateway behind a real nginx (Debian's), with keep-alive on and off and request
 * buffering on and off: the same requests must come out the same.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { aborts, abortsSeen, BIG, fastifyApp, plain, waits } from '../helpers/apps.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { disconnectMidRequest, send } from '../helpers/http-client.js';
import { startNginx } from '../helpers/nginx.js';

const variants = [
  { keepConn: true, requestBuffering: true },
  { keepConn: false, requestBuffering: true },
  { keepConn: true, requestBuffering: false },
  { keepConn: false, requestBuffering: false },
];

for (const variant of variants) {
  describe(`nginx fastcgi_pass, keep-conn ${variant.keepConn ? 'on' : 'off'}, request buffering ${variant.requestBuffering ? 'on' : 'off'}`, () => {
    let gateway: TestGateway;
    let nginx: Awaited<ReturnType<typeof startNginx>>;
    let fastify: FastifyInstance;

    before(async () => {
      fastify = await fastifyApp();
      // Routes under /f/ go to fastify (stripped of the prefix), the rest to the plain listener.
      const routing = fastify.routing;
      gateway = await startGateway({
        protocol: 'fastcgi',
        listener: (req, res) => {
          if (req.url?.startsWith('/f/')) {
            req.url = req.url.slice(2);
            routing(req, res);
          } else plain(req, res);
        },
      });
      nginx = await startNginx({ protocol: 'fastcgi', upstream: gateway.upstream, ...variant });
    });
    after(async () => {
      await nginx?.stop();
      await gateway?.close();
      await fastify?.close();
    });

    test('GET reaches the app with the client address and the raw URI', async () => {
      const res = await send(`${nginx.url}/info?x=%2Fy&z=1`);
      assert.equal(res.status, 200);
      const info = JSON.parse(res.body.toString());
      assert.equal(info.url, '/info?x=%2Fy&z=1');
      assert.equal(info.ip, '127.0.0.1');
    });

    test('fastify DELETE with no body is 204 through nginx', async () => {
      const res = await send(`${nginx.url}/f/nothing`, { method: 'DELETE' });
      assert.equal(res.status, 204);
    });

    test('a 1 MB upload is echoed back whole', async () => {
      const res = await send(`${nginx.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: BIG,
      });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(BIG), `echo of ${res.body.length} bytes`);
    });

    test('a chunked upload is echoed back whole', async () => {
      const pieces = [BIG.subarray(0, 100_000), BIG.subarray(100_000, 700_000), BIG.subarray(700_000)];
      const res = await send(`${nginx.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: pieces,
        chunked: true,
      });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(BIG));
    });

    test('a 1 MB streamed download arrives intact and unchunked by the gateway', async () => {
      const res = await send(`${nginx.url}/f/big`);
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(BIG));
    });

    test('HEAD, 204 and 304 carry no body', async () => {
      assert.equal((await send(`${nginx.url}/info`, { method: 'HEAD' })).body.length, 0);
      assert.equal((await send(`${nginx.url}/nothing`)).status, 204);
      const notModified = await send(`${nginx.url}/not-modified`);
      assert.equal(notModified.status, 304);
      assert.equal(notModified.body.length, 0);
    });

    test(`connections are ${variant.keepConn ? 'reused' : 'closed after each request'}`, async () => {
      const before = gateway.server.stats();
      for (let i = 0; i < 10; i++) assert.equal((await send(`${nginx.url}/info`)).status, 200);
      const after = gateway.server.stats();
      const accepted = after.acceptedConnections - before.acceptedConnections;
      if (variant.keepConn) {
        assert.ok(accepted <= 2, `accepted ${accepted} connections for 10 requests`);
        assert.ok(after.keepAliveReuses - before.keepAliveReuses >= 8);
      } else {
        assert.equal(accepted, 10);
      }
    });

    test('a client that disconnects mid-response aborts the request in the app', async () => {
      aborts.length = 0;
      // The app says when it has begun its response.
      await disconnectMidRequest(nginx.port, '/wait', once(waits, 'started'));
      await abortsSeen(['plain']);
      assert.deepEqual(aborts, ['plain']);
      assert.equal(gateway.server.stats().requestsInFlight, 0);
    });
  });
}
