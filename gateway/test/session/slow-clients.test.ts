/**
 * Slow and greedy clients of the gateway port. Each test is an attack that held a connection (and
 * its memory) forever, or let one connection take what many should share; each now ends with the
 * connection closed, a log line naming the limit, and the worker serving others meanwhile.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { RequestListener } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  encodeBeginRequest,
  encodeParams,
  encodeStream,
  FastcgiDecoder,
  FCGI_KEEP_CONN,
  ProtocolStatus,
  RecordType,
  Role,
} from '../../src/protocol/fastcgi/index.js';
import { encodeRequest, encodeVars } from '../../src/protocol/uwsgi/index.js';
import { nginxParams } from '../helpers/exchange.js';
import { FastcgiClient, parseCgiResponse } from '../helpers/fastcgi-client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { plain } from '../helpers/plain-app.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

/** Generous: a connection the gateway leaves open fails the test here instead of hanging it. */
const NEVER_MS = 10_000;
const limits = { GATEWAY_HEADER_TIMEOUT: '300ms', GATEWAY_BODY_TIMEOUT: '300ms' };

interface Raw {
  socket: Socket;
  /** Resolves with what the gateway sent once it closed the connection. */
  closed: Promise<Buffer>;
}

async function openRaw(port: number): Promise<Raw> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the gateway kept the connection open for ${NEVER_MS} ms`));
    }, NEVER_MS);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
  return { socket, closed };
}

/** The plain test app, with a body reader that expects to be cut off and records it. */
const aborted: string[] = [];
/** 'aborted' as the app sees a request cut off (pushed to `aborted`). */
const abortEvents = new EventEmitter();
const app: RequestListener = (req, res) => {
  if (req.url?.startsWith('/hold')) return; // takes neither the body nor a decision
  if (!req.url?.startsWith('/echo')) return plain(req, res);
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('error', () => {});
  req.on('end', () => res.end(Buffer.concat(chunks)));
  res.on('close', () => {
    if (res.writableFinished) return;
    aborted.push(req.url ?? '');
    abortEvents.emit('aborted');
  });
};

const portOf = (gateway: TestGateway) => (gateway.address as { port: number }).port;
/** Resolves once the app has seen `count` aborts in all (it hears of one on a later turn of the loop than the connection's close). */
function abortsReach(count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (aborted.length < count) return;
      abortEvents.off('aborted', check);
      resolve();
    };
    abortEvents.on('aborted', check);
    check();
  });
}
const logged = (gateway: TestGateway, code: string) =>
  gateway.logLines.filter((line) => (JSON.parse(line) as { code?: string }).code === code).length;

describe('slow FastCGI clients', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ protocol: 'fastcgi', listener: app, env: limits });
  });
  after(() => gateway.close());

  test('attack: BEGIN_REQUEST and a partial PARAMS, then silence, is closed after the header timeout', async () => {
    const raw = await openRaw(portOf(gateway));
    const params = encodeParams(1, Object.entries(nginxParams('GET', '/info')));
    // Everything but the empty PARAMS record that would end the stream.
    raw.socket.write(
      Buffer.concat([encodeBeginRequest(1, Role.Responder, FCGI_KEEP_CONN), params.subarray(0, -8)]),
    );
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_HEADER_TIMEOUT'), 1);
    assert.equal(gateway.server.stats().timedOut, 1);
    assert.equal(gateway.server.stats().requestsInFlight, 0);
  });

  test('attack: PARAMS trickled a byte at a time (each byte resets an idle timer) is closed all the same', async () => {
    const raw = await openRaw(portOf(gateway));
    const bytes = Buffer.concat([
      encodeBeginRequest(1, Role.Responder, FCGI_KEEP_CONN),
      encodeParams(1, Object.entries(nginxParams('GET', '/info'))),
    ]);
    let at = 0;
    const drip = setInterval(() => {
      if (at < bytes.length - 8 && !raw.socket.destroyed) raw.socket.write(bytes.subarray(at, ++at));
    }, 20);
    try {
      await raw.closed;
    } finally {
      clearInterval(drip);
    }
    assert.ok(at < bytes.length - 8, 'the whole PARAMS stream got through');
    assert.equal(logged(gateway, 'GW_ERR_HEADER_TIMEOUT'), 2);
  });

  test('attack: a record header split and never finished, with no request begun, is closed', async () => {
    const raw = await openRaw(portOf(gateway));
    raw.socket.write(encodeBeginRequest(1, Role.Responder, FCGI_KEEP_CONN).subarray(0, 5));
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_HEADER_TIMEOUT'), 3);
  });

  test('attack: a body announced and never sent is closed after the body timeout; the request is aborted', async () => {
    const raw = await openRaw(portOf(gateway));
    raw.socket.write(
      Buffer.concat([
        encodeBeginRequest(1, Role.Responder, FCGI_KEEP_CONN),
        encodeParams(1, Object.entries(nginxParams('POST', '/echo', { CONTENT_LENGTH: '100' }))),
        ...encodeStream(RecordType.Stdin, 1, Buffer.alloc(10, 'a')),
      ]),
    );
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_BODY_TIMEOUT'), 1);
    assert.equal(gateway.server.stats().requestsInFlight, 0);
    await abortsReach(1);
    assert.equal(aborted.length, 1, aborted.join(', '));
  });

  test('a kept-alive connection between requests is idle, not slow: it stays open, and serves again', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const first = await client.request({ keepConn: true, params: nginxParams('GET', '/info') });
    assert.equal(parseCgiResponse(first.stdout).status, 200);
    const before = gateway.server.stats().timedOut;
    // Longer than both timeouts, with no request on the connection: only the idle timeout (75 s) applies.
    // A sleep on purpose: what is checked is that nothing happens (no close) while time passes.
    await new Promise((resolve) => setTimeout(resolve, 900));
    const second = await client.request({ keepConn: true, params: nginxParams('GET', '/info') });
    assert.equal(parseCgiResponse(second.stdout).status, 200);
    assert.equal(gateway.server.stats().timedOut, before);
    client.close();
  });
});

describe('greedy FastCGI clients', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({
      protocol: 'fastcgi',
      listener: app,
      env: { GATEWAY_MAX_PARAMS_SIZE: '4096', GATEWAY_FCGI_MAX_REQS: '64' },
    });
  });
  after(() => gateway.close());

  test('attack: 64 multiplexed requests each with PARAMS just under the limit are one connection over it', async () => {
    const raw = await openRaw(portOf(gateway));
    const pair = Buffer.concat([Buffer.from([4, 0x7f]), Buffer.from('HTTP'), Buffer.alloc(0x7f, 'x')]);
    const out: Buffer[] = [];
    for (let id = 1; id <= 64; id++) {
      out.push(encodeBeginRequest(id, Role.Responder, FCGI_KEEP_CONN));
      // 3,960 bytes of PARAMS per request, never ended: each alone is under the 4,096-byte limit.
      for (let n = 0; n < 30; n++) out.push(...encodeStream(RecordType.Params, id, pair));
    }
    raw.socket.write(Buffer.concat(out));
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_FCGI_PARAMS_TOO_LARGE'), 1);
  });
});

describe('greedy multiplexed FastCGI bodies', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({
      protocol: 'fastcgi',
      listener: app,
      env: { GATEWAY_MAX_BUFFERED_BODY: '65536' },
    });
  });
  after(() => gateway.close());

  test('attack: 8 multiplexed bodies to an app that does not read, each under the bound, are one connection over it', async () => {
    const raw = await openRaw(portOf(gateway));
    const overloaded: number[] = [];
    const decoder = new FastcgiDecoder();
    const shed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no request was shed')), NEVER_MS);
      raw.socket.on('data', (chunk: Buffer) =>
        decoder.push(chunk, (record) => {
          if (record.kind === 'end-request' && record.protocolStatus === ProtocolStatus.Overloaded) {
            overloaded.push(record.requestId);
            clearTimeout(timer);
            resolve();
          }
        }),
      );
    });
    const out: Buffer[] = [];
    for (let id = 1; id <= 8; id++) {
      out.push(
        encodeBeginRequest(id, Role.Responder, FCGI_KEEP_CONN),
        encodeParams(id, Object.entries(nginxParams('POST', '/hold', { CONTENT_LENGTH: String(1 << 20) }))),
      );
    }
    // 48 KiB per request, 16 KiB at a time, round-robin: each alone stays under 64 KiB.
    for (let round = 0; round < 3; round++)
      for (let id = 1; id <= 8; id++)
        out.push(...encodeStream(RecordType.Stdin, id, Buffer.alloc(16384, id)));
    raw.socket.write(Buffer.concat(out));
    await shed;
    assert.ok(overloaded.length >= 1);
    raw.socket.destroy();
    await raw.closed;
  });
});

describe('slow and greedy uwsgi clients', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({
      protocol: 'uwsgi',
      listener: app,
      env: { ...limits, GATEWAY_MAX_CONNECTIONS: '4' },
    });
  });
  after(() => gateway.close());
  const vars = (uri: string, extra: Record<string, string> = {}) =>
    Object.entries(nginxParams(uri.startsWith('/echo') ? 'POST' : 'GET', uri, extra));

  test('attack: half a uwsgi vars block, then silence, is closed after the header timeout', async () => {
    const raw = await openRaw(portOf(gateway));
    const packet = encodeRequest(vars('/info'));
    raw.socket.write(packet.subarray(0, packet.length - 10));
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_HEADER_TIMEOUT'), 1);
  });

  test('attack: a connection that never sends anything is closed after the header timeout', async () => {
    const raw = await openRaw(portOf(gateway));
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_HEADER_TIMEOUT'), 2);
  });

  test('attack: vars complete and a body that never comes is closed after the body timeout', async () => {
    const raw = await openRaw(portOf(gateway));
    const block = encodeVars(vars('/echo', { CONTENT_LENGTH: '1000' }));
    const head = Buffer.from([0, block.length & 0xff, block.length >> 8, 0]);
    raw.socket.write(Buffer.concat([head, block, Buffer.alloc(10, 'a')]));
    await raw.closed;
    assert.equal(logged(gateway, 'GW_ERR_BODY_TIMEOUT'), 1);
    assert.equal(gateway.server.stats().requestsInFlight, 0);
    await abortsReach(2);
    assert.equal(aborted.length, 2, aborted.join(', '));
  });

  test('attack: more connections than GATEWAY_MAX_CONNECTIONS: the extra ones are closed at once, others served', async () => {
    const held = await Promise.all([0, 1, 2, 3].map(() => openRaw(portOf(gateway))));
    await new Promise((resolve) => setImmediate(resolve));
    const extra = await openRaw(portOf(gateway));
    assert.deepEqual(await extra.closed, Buffer.alloc(0));
    assert.ok(gateway.server.stats().refusedConnections >= 1);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    const ok = await uwsgiRequest(gateway.address, vars('/info'));
    assert.equal(ok.status, 200);
  });
});

describe('slow HTTP clients (http mode)', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ protocol: 'http', listener: app, env: limits });
  });
  after(() => gateway.close());

  test('attack: request headers trickled and never finished (slowloris) are answered 408 and closed', async () => {
    const raw = await openRaw(portOf(gateway));
    raw.socket.write('GET /info HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => {
      if (!raw.socket.destroyed) raw.socket.write('X-A: b\r\n');
    }, 50);
    let answer: Buffer;
    try {
      answer = await raw.closed;
    } finally {
      clearInterval(drip);
    }
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 408 /);
  });

  test('attack: a body announced and never sent is answered 408 and closed', async () => {
    const raw = await openRaw(portOf(gateway));
    raw.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
    const answer = await raw.closed;
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 408 /);
  });
});
