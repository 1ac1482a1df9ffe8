/**
 * One suite, four modes: the same app behind the same nginx over FastCGI, uwsgi, HTTP and CGI
 * must give the same statuses and bodies.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Protocol } from '../../src/config.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { disconnectMidRequest, type HttpResult, send } from '../helpers/http-client.js';
import { startNginx } from '../helpers/nginx.js';
import { aborts, abortsSeen, BIG, plain, waits } from '../helpers/plain-app.js';
import { poll } from '../helpers/pool.js';

const cgiProgram = fileURLToPath(new URL('../helpers/cgi-plain.js', import.meta.url));
const modes: Protocol[] = ['fastcgi', 'uwsgi', 'http', 'cgi'];
const seen = new Map<string, Map<Protocol, { status: number; body: string }>>();

function record(name: string, mode: Protocol, res: HttpResult): void {
  const byMode = seen.get(name) ?? new Map();
  const body = res.body.toString('latin1');
  byMode.set(mode, {
    status: res.status,
    body: name.startsWith('info') ? JSON.stringify(withoutPort(body)) : body,
  });
  seen.set(name, byMode);
}

function withoutPort(body: string): unknown {
  const info = JSON.parse(body) as Record<string, unknown>;
  delete info.port; // the client's ephemeral port
  info.host = String(info.host).replace(/:\d+$/, ''); // each mode has its own nginx port
  return info;
}

const html = mkdtempSync(join(tmpdir(), 'gw-html-'));
writeFileSync(join(html, 'index.html'), '<!doctype html><title>static</title><p>served by nginx</p>\n');
writeFileSync(join(html, 'page.html'), '<p>a static page</p>\n');

for (const mode of modes) {
  describe(`${mode} mode through nginx`, () => {
    let gateway: TestGateway;
    let nginx: Awaited<ReturnType<typeof startNginx>>;
    before(async () => {
      gateway = await startGateway({
        protocol: mode,
        listener: plain,
        env: { GATEWAY_CGI_COMMAND: `node ${cgiProgram}` },
      });
      nginx = await startNginx({ protocol: mode, upstream: gateway.upstream, htmlRoot: html });
    });
    after(async () => {
      await nginx?.stop();
      await gateway?.close();
    });

    test('a static file is served by nginx without touching the gateway', async () => {
      const before = gateway.server.stats().acceptedConnections;
      const res = await send(`${nginx.url}/page.html`);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), '<p>a static page</p>\n');
      assert.equal(gateway.server.stats().acceptedConnections, before);
    });

    test('GET with encoded characters and %2F keeps the raw URI', async () => {
      const res = await send(`${nginx.url}/info?q=a%2Fb%20c&x=%C3%A9`);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body.toString()).url, '/info?q=a%2Fb%20c&x=%C3%A9');
      record('info-query', mode, res);
      const path = await send(`${nginx.url}/info%2Fencoded`);
      record('encoded-path', mode, path);
    });

    test('headers and cookies reach the app', async () => {
      const res = await send(`${nginx.url}/info`, { headers: { cookie: 'a=1; b=2', 'x-auth-token': 'abc' } });
      const info = JSON.parse(res.body.toString());
      assert.equal(info.cookie, 'a=1; b=2');
      assert.equal(info.token, 'abc');
      record('info-headers', mode, res);
    });

    test('POST and PUT of 1 MB are echoed; DELETE answers 204; HEAD has no body', async () => {
      for (const method of ['POST', 'PUT']) {
        const res = await send(`${nginx.url}/echo`, {
          method,
          headers: { 'content-type': 'application/octet-stream' },
          body: BIG,
        });
        assert.equal(res.status, 200);
        assert.ok(res.body.equals(BIG), `${method} echo`);
        record(`echo-${method}`, mode, res);
      }
      const del = await send(`${nginx.url}/nothing`, { method: 'DELETE' });
      assert.equal(del.status, 204);
      record('delete', mode, del);
      const head = await send(`${nginx.url}/info`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
    });

    test('a 1 MB response, redirects, 204 and 304', async () => {
      const big = await send(`${nginx.url}/big`);
      assert.ok(big.body.equals(BIG));
      const redirect = await send(`${nginx.url}/redirect`);
      assert.equal(redirect.status, 302);
      assert.match(String(redirect.headers.location), /\/info$/);
      const nothing = await send(`${nginx.url}/nothing`);
      assert.equal(nothing.status, 204);
      const notModified = await send(`${nginx.url}/not-modified`);
      assert.equal(notModified.status, 304);
      for (const [name, res] of [
        ['big', big],
        ['redirect', redirect],
        ['nothing', nothing],
        ['304', notModified],
      ] as const) {
        record(name, mode, res);
      }
      record('missing', mode, await send(`${nginx.url}/no/such/path`));
    });

    test('a client that disconnects mid-response does not hurt the next request', async (t) => {
      aborts.length = 0;
      // The app says when it has begun its response; in cgi mode it runs in a process of its own,
      // and the gateway's count of requests in flight (which announces no change) is polled.
      const inApp =
        mode === 'cgi'
          ? poll(
              () => gateway.server.stats().requestsInFlight > 0,
              () => 'the request in the gateway',
              t.signal,
            )
          : once(waits, 'started');
      await disconnectMidRequest(nginx.port, '/wait', inApp);
      if (mode !== 'cgi') {
        await abortsSeen(['plain']);
        assert.deepEqual(aborts, ['plain']);
      }
      assert.equal((await send(`${nginx.url}/info`)).status, 200);
    });
  });
}

describe('every mode answers alike', () => {
  after(() => rmSync(html, { recursive: true, force: true }));
  test('identical statuses and bodies in every mode', () => {
    assert.ok(seen.size >= 10);
    for (const [name, byMode] of seen) {
      const reference = byMode.get('http');
      assert.ok(reference, name);
      for (const mode of modes) assert.deepEqual(byMode.get(mode), reference, `${name} in ${mode} mode`);
    }
  });
});
