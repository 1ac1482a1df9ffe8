/**
 * Malformed FastCGI input closes that connection only, logs one typed line, and leaks nothing:
 * thousands of bad connections later, memory is flat and a request on a connection opened before
 * them still succeeds.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  encodeBeginRequest,
  encodeHeader,
  encodeParams,
  encodeRecord,
  RecordType,
} from '../../src/protocol/fastcgi/index.js';
import { plain } from '../helpers/apps.js';
import { FastcgiClient, parseCgiResponse } from '../helpers/fastcgi-client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const okParams = { REQUEST_METHOD: 'GET', REQUEST_URI: '/info', CONTENT_LENGTH: '', CONTENT_TYPE: '' };
const bigValue = 'v'.repeat(70_000);

/** Each case: bytes that must make the gateway close the connection, and the code it logs. */
const cases: Array<{ name: string; bytes: Buffer; code: string }> = [
  {
    name: 'bad version',
    bytes: Buffer.from([2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]),
    code: 'GW_ERR_FCGI_VERSION',
  },
  {
    name: 'BEGIN_REQUEST with an impossible length',
    bytes: Buffer.concat([encodeHeader(RecordType.BeginRequest, 1, 5, 3), Buffer.alloc(8)]),
    code: 'GW_ERR_FCGI_RECORD_LENGTH',
  },
  {
    name: 'a non-management record with id 0',
    bytes: encodeRecord(RecordType.Stdin, 0, Buffer.from('x')),
    code: 'GW_ERR_FCGI_NULL_ID',
  },
  {
    name: 'params over the limit',
    bytes: Buffer.concat([
      encodeBeginRequest(1, 1, 1),
      encodeParams(1, [
        ['HTTP_X', bigValue],
        ['HTTP_Y', bigValue],
      ]),
    ]),
    code: 'GW_ERR_FCGI_PARAMS_TOO_LARGE',
  },
  {
    name: 'a second BEGIN_REQUEST for an active id',
    bytes: Buffer.concat([encodeBeginRequest(1, 1, 1), encodeBeginRequest(1, 1, 1)]),
    code: 'GW_ERR_FCGI_DUPLICATE_ID',
  },
  {
    name: 'STDIN before PARAMS ended',
    bytes: Buffer.concat([encodeBeginRequest(1, 1, 1), encodeRecord(RecordType.Stdin, 1, Buffer.from('x'))]),
    code: 'GW_ERR_FCGI_UNEXPECTED_RECORD',
  },
  {
    name: 'a record the web server never sends (STDOUT)',
    bytes: Buffer.concat([encodeBeginRequest(1, 1, 1), encodeRecord(RecordType.Stdout, 1, Buffer.from('x'))]),
    code: 'GW_ERR_FCGI_UNEXPECTED_RECORD',
  },
  {
    name: 'random bytes',
    bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    code: 'GW_ERR_FCGI_VERSION',
  },
];

function openAndSend(port: number, bytes: Buffer, end: boolean): Promise<'closed-by-server'> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1', () => {
      if (end) socket.end(bytes);
      else socket.write(bytes);
    });
    socket.on('data', () => {});
    socket.on('error', () => resolve('closed-by-server'));
    socket.on('close', () => resolve('closed-by-server'));
    socket.setTimeout(3000, () => {
      socket.destroy();
      reject(new Error('the gateway kept a malformed connection open'));
    });
  });
}

describe('malformed FastCGI input', () => {
  let gateway: TestGateway;
  let port: number;
  before(async () => {
    gateway = await startGateway({
      protocol: 'fastcgi',
      listener: plain,
      env: { GATEWAY_MAX_PARAMS_SIZE: '100000' },
    });
    port = (gateway.address as { port: number }).port;
  });
  after(() => gateway.close());

  for (const c of cases) {
    test(`${c.name}: connection closed, one ${c.code} line logged`, async () => {
      const before = gateway.logLines.length;
      assert.equal(await openAndSend(port, c.bytes, false), 'closed-by-server');
      const lines = gateway.logLines
        .slice(before)
        .map((l) => JSON.parse(l) as { code?: string; offset?: number });
      const typed = lines.filter((l) => l.code === c.code);
      assert.equal(typed.length, 1, JSON.stringify(lines));
      assert.equal(typeof typed[0]!.offset, 'number');
    });
  }

  test('a record truncated by the peer closing is cleaned up and logged', async () => {
    const before = gateway.logLines.length;
    // The server's own end of the connection, closed: its 'close' listeners run in the order
    // added, so the server's count of connections has been updated when this one runs.
    const serverClosed = new Promise<void>((resolve) =>
      gateway.server.server.once('connection', (socket) => socket.once('close', () => resolve())),
    );
    await openAndSend(port, encodeBeginRequest(1, 1, 1).subarray(0, 11), true);
    // Logged as the server sees the peer's close.
    await gateway.logged((l) => l.code === 'GW_ERR_FCGI_TRUNCATED', before);
    await serverClosed;
    const lines = gateway.logLines.slice(before).map((l) => JSON.parse(l) as { code?: string });
    assert.ok(
      lines.some((l) => l.code === 'GW_ERR_FCGI_TRUNCATED'),
      JSON.stringify(lines),
    );
    assert.equal(gateway.server.stats().connections, 0);
  });

  test('STDIN past a body declared empty is dropped, as PHP-FPM reads only CONTENT_LENGTH', {
    timeout: 20_000,
  }, async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const before = gateway.logLines.length;
    const params = { ...okParams, REQUEST_METHOD: 'POST', REQUEST_URI: '/echo', CONTENT_LENGTH: '0' };
    const extra = await client.request({ requestId: 1, keepConn: true, params, stdin: Buffer.from('extra') });
    const response = parseCgiResponse(extra.stdout);
    assert.equal(response.status, 200);
    assert.equal(response.body.length, 0);
    const again = await client.request({ requestId: 1, keepConn: true, params: okParams });
    assert.equal(parseCgiResponse(again.stdout).status, 200);
    client.close();
    const lines = gateway.logLines.slice(before).map((l) => JSON.parse(l) as { level: string });
    assert.deepEqual(
      lines.filter((l) => l.level !== 'debug'),
      [],
    );
  });

  test('thousands of bad connections: memory stays flat, other connections keep serving', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const first = await client.request({ requestId: 1, keepConn: true, params: okParams });
    assert.equal(parseCgiResponse(first.stdout).status, 200);

    const round = async () => {
      for (let i = 0; i < 500; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            openAndSend(port, (cases[(i + j) % cases.length] as { bytes: Buffer }).bytes, false),
          ),
        );
      }
    };
    await round(); // warm up allocations
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let r = 0; r < 4; r++) await round();
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(growth < 4 * 1024 * 1024, `heap grew by ${growth} bytes over 2000 bad connections`);
    assert.equal(gateway.server.stats().connections, 1, 'only the good connection is left open');
    assert.ok(gateway.server.stats().protocolErrors >= 2500);

    const again = await client.request({ requestId: 1, keepConn: true, params: okParams });
    assert.equal(parseCgiResponse(again.stdout).status, 200);
    client.close();
    gateway.logLines.length = 0;
  });
});
