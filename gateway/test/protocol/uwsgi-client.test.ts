/**
 * The uwsgi test client against a tiny server built from the codec: the server decodes what the
 * client sent and answers with a raw HTTP response, then closes, as the gateway does.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeRequest, UwsgiDecoder } from '../../src/protocol/uwsgi/index.js';
import { type UwsgiAddress, uwsgiRequest } from '../helpers/uwsgi-client.js';

interface Seen {
  raw: Buffer;
  modifier1: number;
  modifier2: number;
  vars: Array<[string, string]>;
  body: Buffer;
}

/** Answers by REQUEST_URI; `seen` keeps each decoded request for the assertions. */
function tinyServer(seen: Seen[]): Server {
  return createServer((socket: Socket) => {
    const decoder = new UwsgiDecoder({ allowedModifiers: [0, 7] });
    const raw: Buffer[] = [];
    const body: Buffer[] = [];
    let request: Omit<Seen, 'body' | 'raw'> | null = null;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      raw.push(chunk);
      try {
        decoder.push(chunk, (e) => {
          if (e.kind === 'vars') request = { modifier1: e.modifier1, modifier2: e.modifier2, vars: e.vars };
          else if (e.kind === 'body') body.push(Buffer.from(e.data));
          else if (request) {
            const done = { ...request, raw: Buffer.concat(raw), body: Buffer.concat(body) };
            seen.push(done);
            respond(socket, done);
          }
        });
      } catch {
        socket.destroy();
      }
    });
  });
}

/** Fixed answers by REQUEST_URI; anything else gets the decoded request back as JSON. */
const canned: Record<string, [head: string, body: string]> = {
  '/teapot': ["HTTP/1.1 418 I'm a teapot\r\nContent-Type: text/plain\r\n\r\n", 'a\r\n\r\nb'],
  '/no-reason': ['HTTP/1.0 204\r\nX-A: 1\r\n\r\n', ''],
  '/garbage': ['nonsense', ''],
};

function respond(socket: Socket, req: Seen): void {
  const uri = new Map(req.vars).get('REQUEST_URI') ?? '';
  if (uri === '/hang') return;
  if (uri === '/reset') {
    socket.resetAndDestroy();
    return;
  }
  const json = JSON.stringify({
    vars: req.vars,
    length: req.body.length,
    sha256: createHash('sha256').update(req.body).digest('hex'),
  });
  const [head, body] = canned[uri] ?? [
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n`,
    json,
  ];
  socket.write(head);
  socket.end(body);
}

function listen(server: Server, where: { port: 0; host: string } | { path: string }): Promise<UwsgiAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      const a = server.address();
      resolve(typeof a === 'string' || a === null ? { path: a ?? '' } : { host: a.address, port: a.port });
    };
    if ('path' in where) server.listen(where.path, done);
    else server.listen(where.port, where.host, done);
  });
}

const get = (uri: string): Array<[string, string]> => [
  ['REQUEST_METHOD', 'GET'],
  ['REQUEST_URI', uri],
  ['CONTENT_LENGTH', ''],
];

describe('uwsgi client against a codec-built server', () => {
  const seen: Seen[] = [];
  const tcp = tinyServer(seen);
  const unix = tinyServer(seen);
  const dir = mkdtempSync(join(tmpdir(), 'gw-uwsgi-client-'));
  let tcpAddress: UwsgiAddress;
  let unixAddress: UwsgiAddress;

  before(async () => {
    tcpAddress = await listen(tcp, { port: 0, host: '127.0.0.1' });
    unixAddress = await listen(unix, { path: join(dir, 'uwsgi.sock') });
  });
  after(async () => {
    await Promise.all([tcp, unix].map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  test('TCP: sends exactly one encoded packet; parses status, repeated headers and body', async () => {
    const vars = get('/info');
    const res = await uwsgiRequest(tcpAddress, vars);
    const req = seen.at(-1)!;
    assert.ok(req.raw.equals(encodeRequest(vars)), 'the bytes on the wire are the encoded packet');
    assert.equal(res.status, 200);
    assert.equal(res.reason, 'OK');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.deepEqual(res.headers['content-type'], ['application/json']);
    assert.deepEqual(JSON.parse(res.body.toString()).vars, vars);
    assert.equal(res.body.length, Number(res.headers['content-length']?.[0]));
    assert.match(res.raw.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(res.raw.subarray(res.raw.length - res.body.length).equals(res.body));
  });

  test('unix socket: a 1 MiB body and the modifiers reach the server intact', async () => {
    const body = Buffer.alloc(1 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const vars: Array<[string, string]> = [
      ['REQUEST_METHOD', 'POST'],
      ['REQUEST_URI', '/upload'],
      ['CONTENT_LENGTH', String(body.length)],
    ];
    const res = await uwsgiRequest(unixAddress, vars, body, { modifier1: 7, modifier2: 5 });
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.body.toString());
    assert.equal(echo.length, body.length);
    assert.equal(echo.sha256, createHash('sha256').update(body).digest('hex'));
    const req = seen.at(-1)!;
    assert.equal(req.modifier1, 7);
    assert.equal(req.modifier2, 5);
  });

  test('a reason phrase with spaces; a body holding a blank line stays whole', async () => {
    const res = await uwsgiRequest(tcpAddress, get('/teapot'));
    assert.equal(res.status, 418);
    assert.equal(res.reason, "I'm a teapot");
    assert.equal(res.body.toString(), 'a\r\n\r\nb');
  });

  test('a status line without a reason phrase', async () => {
    const res = await uwsgiRequest(tcpAddress, get('/no-reason'));
    assert.equal(res.status, 204);
    assert.equal(res.reason, '');
    assert.deepEqual(res.headers, { 'x-a': ['1'] });
    assert.equal(res.body.length, 0);
  });

  test('a response with no HTTP head is an error', async () => {
    await assert.rejects(uwsgiRequest(tcpAddress, get('/garbage')), /no HTTP head in 8 bytes/);
  });

  test('a reset connection is an error, not a short response', async () => {
    await assert.rejects(uwsgiRequest(tcpAddress, get('/reset')), { code: 'ECONNRESET' });
  });

  test('a server that never closes fails after the timeout', async () => {
    const started = Date.now();
    await assert.rejects(
      uwsgiRequest(tcpAddress, get('/hang'), undefined, { timeoutMs: 200 }),
      /within 200 ms/,
    );
    assert.ok(Date.now() - started < 5000);
  });

  test('nothing listening is an error', async () => {
    await assert.rejects(uwsgiRequest({ path: join(dir, 'absent.sock') }, get('/')), { code: 'ENOENT' });
  });
});
