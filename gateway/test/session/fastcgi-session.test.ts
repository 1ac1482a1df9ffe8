/**
 * The FastCGI session against a client written from the spec: multiplexing, management records,
 * roles, keep-conn, abort, and libfcgi's own cgi-fcgi as a second, independent peer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { RequestListener } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { encodeRecord, ProtocolStatus, RecordType, Role } from '../../src/protocol/fastcgi/index.js';
import { aborts, abortsSeen, plain } from '../helpers/apps.js';
import { FastcgiClient, parseCgiResponse } from '../helpers/fastcgi-client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const run = promisify(execFile);

function params(uri: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REQUEST_METHOD: 'GET',
    REQUEST_URI: uri,
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '198.51.100.4',
    REMOTE_PORT: '40000',
    HTTP_HOST: 'example.test',
    CONTENT_LENGTH: '',
    CONTENT_TYPE: '',
    ...extra,
  };
}

/** Answers /slow/N after N ms, so requests on one connection overlap. */
const slowOrPlain: RequestListener = (req, res) => {
  const match = /^\/slow\/(\d+)$/.exec(req.url ?? '');
  if (!match) return plain(req, res);
  setTimeout(() => res.end(`slept ${match[1]}`), Number(match[1]));
};

describe('FastCGI session', () => {
  let gateway: TestGateway;
  let single: TestGateway;
  before(async () => {
    gateway = await startGateway({
      protocol: 'fastcgi',
      listener: slowOrPlain,
      env: { GATEWAY_FCGI_MAX_REQS: '4' },
    });
    single = await startGateway({
      protocol: 'fastcgi',
      listener: slowOrPlain,
      env: { GATEWAY_FCGI_MPXS_CONNS: 'false' },
    });
  });
  after(async () => {
    await gateway.close();
    await single.close();
  });

  test('GET_VALUES is answered truthfully', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const values = await client.getValues([
      'FCGI_MAX_CONNS',
      'FCGI_MAX_REQS',
      'FCGI_MPXS_CONNS',
      'NOT_A_VALUE',
    ]);
    assert.equal(values.get('FCGI_MPXS_CONNS'), '1');
    assert.equal(values.get('FCGI_MAX_CONNS'), '1024');
    assert.equal(values.get('FCGI_MAX_REQS'), String(1024 * 4));
    assert.equal(values.has('NOT_A_VALUE'), false);
    const other = await FastcgiClient.connect(single.address);
    assert.equal((await other.getValues(['FCGI_MPXS_CONNS'])).get('FCGI_MPXS_CONNS'), '0');
    client.close();
    other.close();
  });

  test('an unknown management record is answered with UNKNOWN_TYPE', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    client.sendRaw(encodeRecord(42, 0, Buffer.alloc(0)));
    await client.record((r) => r.kind === 'unknown-type');
    const record = client.records.find((r) => r.kind === 'unknown-type');
    assert.deepEqual(record, { kind: 'unknown-type', unknownType: 42 });
    client.close();
  });

  test('requests multiplexed on one connection finish independently, in their own time', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const slow = client.request({ requestId: 1, keepConn: true, params: params('/slow/150') });
    const fast = client.request({ requestId: 2, keepConn: true, params: params('/slow/10') });
    const info = client.request({ requestId: 3, keepConn: true, params: params('/info') });
    const order: number[] = [];
    const results = await Promise.all(
      [slow, fast, info].map((p, i) =>
        p.then((r) => {
          order.push(i + 1);
          return r;
        }),
      ),
    );
    assert.equal(parseCgiResponse(results[0]!.stdout).body.toString(), 'slept 150');
    assert.equal(parseCgiResponse(results[1]!.stdout).body.toString(), 'slept 10');
    assert.equal(JSON.parse(parseCgiResponse(results[2]!.stdout).body.toString()).ip, '198.51.100.4');
    assert.equal(order.at(-1), 1, 'the slow request finished last');
    for (const r of results) assert.equal(r.protocolStatus, ProtocolStatus.RequestComplete);
    client.close();
  });

  test('past FCGI_MAX_REQS on a connection the request is refused with FCGI_OVERLOADED', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const pending = [1, 2, 3, 4].map((id) =>
      client.request({ requestId: id, keepConn: true, params: params('/slow/100') }),
    );
    const refused = await client.request({ requestId: 5, keepConn: true, params: params('/info') });
    assert.equal(refused.protocolStatus, ProtocolStatus.Overloaded);
    assert.equal(refused.stdout.length, 0);
    for (const r of await Promise.all(pending))
      assert.equal(r.protocolStatus, ProtocolStatus.RequestComplete);
    client.close();
  });

  test('without multiplexing a second request is refused with FCGI_CANT_MPX_CONN', async () => {
    const client = await FastcgiClient.connect(single.address);
    const first = client.request({ requestId: 1, keepConn: true, params: params('/slow/80') });
    const second = await client.request({ requestId: 2, keepConn: true, params: params('/info') });
    assert.equal(second.protocolStatus, ProtocolStatus.CantMpxConn);
    assert.equal((await first).protocolStatus, ProtocolStatus.RequestComplete);
    client.close();
  });

  test('roles other than responder get FCGI_UNKNOWN_ROLE', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    for (const role of [Role.Authorizer, Role.Filter, 9]) {
      const r = await client.request({ requestId: 1, keepConn: true, role, params: params('/info') });
      assert.equal(r.protocolStatus, ProtocolStatus.UnknownRole);
    }
    client.close();
  });

  test('keep-conn off: the gateway closes the connection after END_REQUEST', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const r = await client.request({ requestId: 1, keepConn: false, params: params('/info') });
    assert.equal(parseCgiResponse(r.stdout).status, 200);
    await client.closed;
  });

  test('keep-conn on: the connection serves request after request', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    for (let i = 0; i < 5; i++) {
      const r = await client.request({ requestId: 1, keepConn: true, params: params('/info') });
      assert.equal(parseCgiResponse(r.stdout).status, 200);
    }
    client.close();
  });

  test('requests that follow each other on a connection each get their own socket view and close', async () => {
    const seen: Array<{
      ip: string | undefined;
      port: number | undefined;
      encrypted: boolean;
      closed: boolean;
    }> = [];
    const sockets = new Set<unknown>();
    let closes = 0;
    let allClosed: () => void = () => {};
    const threeClosed = new Promise<void>((resolve) => {
      allClosed = resolve;
    });
    const recorder = await startGateway({
      protocol: 'fastcgi',
      listener: (req, res) => {
        const entry = {
          ip: req.socket.remoteAddress,
          port: req.socket.remotePort,
          encrypted: Boolean((req.socket as { encrypted?: boolean }).encrypted),
          closed: false,
        };
        seen.push(entry);
        sockets.add(req.socket);
        res.on('close', () => {
          entry.closed = res.writableFinished;
          if (++closes === 3) allClosed();
        });
        res.end(`${entry.ip} ${entry.port}`);
      },
    });
    const client = await FastcgiClient.connect(recorder.address);
    const clients: Array<Record<string, string>> = [
      { REMOTE_ADDR: '198.51.100.4', REMOTE_PORT: '40000', HTTPS: 'on' },
      { REMOTE_ADDR: '2001:db8::7', REMOTE_PORT: '40001' },
      { REMOTE_ADDR: '203.0.113.9', REMOTE_PORT: '40002', HTTPS: 'on' },
    ];
    for (const extra of clients) {
      const r = await client.request({ requestId: 1, keepConn: true, params: params('/who', extra) });
      assert.equal(
        parseCgiResponse(r.stdout).body.toString(),
        `${extra['REMOTE_ADDR']} ${extra['REMOTE_PORT']}`,
      );
    }
    await threeClosed;
    assert.equal(seen.length, 3);
    assert.ok(
      seen.every((entry) => entry.closed),
      'each response finished before its close',
    );
    assert.deepEqual(
      seen.map(({ ip, port, encrypted }) => ({ ip, port, encrypted })),
      clients.map((c) => ({
        ip: c['REMOTE_ADDR'],
        port: Number(c['REMOTE_PORT']),
        encrypted: c['HTTPS'] === 'on',
      })),
    );
    client.close();
    await recorder.close();
  });

  test('ABORT_REQUEST ends the request at once and the app sees the abort', async () => {
    aborts.length = 0;
    const client = await FastcgiClient.connect(gateway.address);
    const pending = client.request({ requestId: 7, keepConn: true, params: params('/wait') });
    await client.record((r) => r.kind === 'stream' && r.type === RecordType.Stdout);
    client.sendRaw(encodeRecord(RecordType.AbortRequest, 7, Buffer.alloc(0)));
    const r = await pending;
    assert.equal(r.protocolStatus, ProtocolStatus.RequestComplete);
    await abortsSeen(['plain']);
    const next = await client.request({ requestId: 7, keepConn: true, params: params('/info') });
    assert.equal(parseCgiResponse(next.stdout).status, 200, 'the connection lives on');
    client.close();
  });

  test('a request body streamed in many STDIN records reaches the app', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const body = Buffer.alloc(300_000, 'q');
    const r = await client.request({
      requestId: 1,
      params: params('/echo', {
        REQUEST_METHOD: 'POST',
        CONTENT_LENGTH: String(body.length),
        CONTENT_TYPE: 'text/plain',
      }),
      stdin: body,
      stdinChunkSize: 7000,
    });
    assert.ok(parseCgiResponse(r.stdout).body.equals(body));
  });

  test("libfcgi's cgi-fcgi talks to the gateway", async () => {
    const address = gateway.address as { host: string; port: number };
    const { stdout } = await run('cgi-fcgi', ['-bind', '-connect', `${address.host}:${address.port}`], {
      env: { ...process.env, ...params('/info?from=cgi-fcgi') },
      encoding: 'buffer',
    });
    const res = parseCgiResponse(stdout);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).url, '/info?from=cgi-fcgi');
  });
});
