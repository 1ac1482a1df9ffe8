/**
 * Response chunks that are Uint8Arrays but not Buffers (what every Web-stream bridge writes) reach
 * the client over FastCGI and uwsgi as node:http sends them, and a view's offset is honoured.
 */
import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { nginxParams } from '../helpers/exchange.js';
import { FastcgiClient, parseCgiResponse } from '../helpers/fastcgi-client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const big = new Uint8Array(100_000).map((_, i) => 97 + (i % 26));

const listener: RequestListener = (req, res) => {
  if (req.url === '/big') {
    // Large enough to go out as records that reference the data rather than copies of it.
    res.setHeader('content-length', big.length + 1);
    res.write(big);
    res.end(new Uint8Array([10]));
    return;
  }
  const bytes = new TextEncoder().encode('xxhello, ');
  res.write(bytes.subarray(2)); // a view into a larger buffer, at an offset
  res.write(new Uint8Array(0));
  res.end(new Uint8Array([119, 111, 114, 108, 100]));
};

const expectedBig = Buffer.concat([Buffer.from(big), Buffer.from('\n')]);

describe('FastCGI: Uint8Array response chunks', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ protocol: 'fastcgi', listener });
  });
  after(async () => {
    await gateway.close();
  });

  test('are sent, and the keep-alive connection serves the next request', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    try {
      for (const [path, body] of [
        ['/small', Buffer.from('hello, world')],
        ['/big', expectedBig],
        ['/small', Buffer.from('hello, world')],
      ] as const) {
        const result = await client.request({ params: nginxParams('GET', path), keepConn: true });
        const res = parseCgiResponse(result.stdout);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, body);
      }
    } finally {
      client.close();
    }
  });
});

describe('uwsgi: Uint8Array response chunks', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ protocol: 'uwsgi', listener });
  });
  after(async () => {
    await gateway.close();
  });

  test('are sent', async () => {
    const small = await uwsgiRequest(gateway.address, Object.entries(nginxParams('GET', '/small')));
    assert.equal(small.status, 200);
    assert.equal(small.body.toString(), 'hello, world');
    const large = await uwsgiRequest(gateway.address, Object.entries(nginxParams('GET', '/big')));
    assert.deepEqual(large.body, expectedBig);
  });
});
