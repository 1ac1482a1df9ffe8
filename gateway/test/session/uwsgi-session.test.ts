/** The uwsgi session: one request per connection, HTTP status line, close to end, bad input. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodeRequest } from '../../src/protocol/uwsgi/index.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { BIG, plain } from '../helpers/plain-app.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const vars = (uri: string, extra: Record<string, string> = {}) =>
  Object.entries({
    REQUEST_METHOD: 'GET',
    REQUEST_URI: uri,
    PATH_INFO: uri.split('?')[0] ?? uri,
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '203.0.113.9',
    REMOTE_PORT: '5555',
    HTTP_HOST: 'example.test',
    CONTENT_LENGTH: '',
    CONTENT_TYPE: '',
    ...extra,
  });

function sendRaw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

describe('uwsgi session', () => {
  let gateway: TestGateway;
  let port: number;
  before(async () => {
    gateway = await startGateway({ protocol: 'uwsgi', listener: plain });
    port = (gateway.address as { port: number }).port;
  });
  after(() => gateway.close());

  test('GET answers with an HTTP/1.1 status line, no Status header, then closes', async () => {
    const res = await uwsgiRequest(gateway.address, vars('/info?a=%2F'));
    assert.equal(res.status, 200);
    assert.match(res.raw.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(res.headers.status, undefined);
    const info = JSON.parse(res.body.toString());
    assert.equal(info.url, '/info?a=%2F');
    assert.equal(info.ip, '203.0.113.9');
  });

  test('a 1 MB body is read as exactly CONTENT_LENGTH bytes and echoed', async () => {
    const res = await uwsgiRequest(
      gateway.address,
      vars('/echo', {
        REQUEST_METHOD: 'POST',
        CONTENT_LENGTH: String(BIG.length),
        CONTENT_TYPE: 'application/octet-stream',
      }),
      BIG,
    );
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(BIG));
  });

  test('a streamed response without Content-Length is delimited by the close', async () => {
    const res = await uwsgiRequest(gateway.address, vars('/big'));
    assert.equal(res.headers['transfer-encoding'], undefined);
    assert.ok(res.body.equals(BIG));
  });

  test('modifier1 other than 0 closes the connection without an answer', async () => {
    const before = gateway.server.stats().protocolErrors;
    const out = await sendRaw(port, encodeRequest(vars('/info'), undefined, 22));
    assert.equal(out.length, 0);
    assert.equal(gateway.server.stats().protocolErrors, before + 1);
  });

  test('HTTP spoken to the uwsgi socket is rejected and the server keeps serving', async () => {
    const out = await sendRaw(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(out.length, 0);
    assert.equal((await uwsgiRequest(gateway.address, vars('/info'))).status, 200);
  });
});
