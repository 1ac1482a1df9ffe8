/**
 * The codec against real nginx: nginx (configured from nginx/snippets/uwsgi.conf) sends requests
 * through uwsgi_pass to a tiny server built from the codec, which records every byte. Each packet
 * must decode as one request with nginx's vars and body, and re-encode to exactly nginx's bytes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodeRequest, UwsgiDecoder, type UwsgiEvent } from '../../src/protocol/uwsgi/index.js';
import { send } from '../helpers/http-client.js';
import { type RunningNginx, startNginx } from '../helpers/nginx.js';

const hasNginx = spawnSync('nginx', ['-v']).status === 0;

interface Captured {
  raw: Buffer;
  chunks: number;
  vars: Map<string, string>;
  head: UwsgiEvent & { kind: 'vars' };
  body: Buffer;
}

/** Records each request; answers with its SHA-256 and closes, as the gateway's uwsgi mode does. */
function recorder(captured: Captured[], errors: unknown[]): Server {
  return createServer((socket: Socket) => {
    const decoder = new UwsgiDecoder();
    const raw: Buffer[] = [];
    const body: Buffer[] = [];
    let head: (UwsgiEvent & { kind: 'vars' }) | null = null;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      raw.push(chunk);
      try {
        decoder.push(chunk, (e) => {
          if (e.kind === 'vars') head = e;
          else if (e.kind === 'body') body.push(Buffer.from(e.data));
          else if (head) {
            const all = Buffer.concat(body);
            captured.push({
              raw: Buffer.concat(raw),
              chunks: raw.length,
              vars: new Map(head.vars),
              head,
              body: all,
            });
            const digest = createHash('sha256').update(all).digest('hex');
            socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n${digest}`);
          }
        });
      } catch (err) {
        errors.push(err);
        socket.destroy();
      }
    });
  });
}

for (const requestBuffering of [true, false]) {
  describe(`real nginx uwsgi_pass (request buffering ${requestBuffering ? 'on' : 'off'})`, {
    skip: !hasNginx && 'nginx is not installed',
  }, () => {
    const captured: Captured[] = [];
    const errors: unknown[] = [];
    const server = recorder(captured, errors);
    let nginx: RunningNginx;

    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      nginx = await startNginx({ protocol: 'uwsgi', upstream: `127.0.0.1:${port}`, requestBuffering });
    });
    after(async () => {
      await nginx?.stop();
      await new Promise((r) => server.close(r));
    });

    /** The last captured request, checked to be exactly what the codec would encode. */
    function last(): Captured {
      assert.deepEqual(errors, [], 'the decoder accepted every packet');
      const c = captured.at(-1);
      assert.ok(c, 'a request reached the upstream');
      assert.equal(c.head.modifier1, 0);
      assert.equal(c.head.modifier2, 0);
      const mirror = encodeRequest(c.head.vars, c.body.length > 0 ? c.body : undefined);
      assert.ok(mirror.equals(c.raw), 'the decoded request re-encodes to nginx bytes');
      return c;
    }

    test('GET: the snippet vars, the headers, and an empty CONTENT_LENGTH', async () => {
      const res = await send(`${nginx.url}/probe/a%2Fb?x=1`, {
        headers: { 'X-Custom': 'v1', Accept: 'text/plain' },
      });
      assert.equal(res.status, 200);
      const c = last();
      assert.equal(c.vars.get('REQUEST_METHOD'), 'GET');
      assert.equal(c.vars.get('REQUEST_URI'), '/probe/a%2Fb?x=1');
      assert.equal(c.vars.get('QUERY_STRING'), 'x=1');
      assert.equal(c.vars.get('CONTENT_LENGTH'), '');
      assert.equal(c.vars.get('HTTP_X_CUSTOM'), 'v1');
      assert.equal(c.vars.get('HTTP_HOST'), `127.0.0.1:${nginx.port}`);
      assert.equal(c.head.contentLength, 0);
      assert.equal(res.body.toString(), createHash('sha256').update('').digest('hex'));
    });

    test('POST with Content-Length: 200 KiB of body after the vars', async () => {
      const body = Buffer.alloc(200 * 1024);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
      const res = await send(`${nginx.url}/upload`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body,
      });
      assert.equal(res.status, 200);
      const c = last();
      assert.equal(c.vars.get('CONTENT_LENGTH'), String(body.length));
      assert.equal(c.vars.get('CONTENT_TYPE'), 'application/octet-stream');
      assert.ok(c.body.equals(body));
      assert.equal(res.body.toString(), createHash('sha256').update(body).digest('hex'));
    });

    test('chunked POST: nginx buffers it and sends CONTENT_LENGTH', async () => {
      const pieces = [Buffer.from('{"a":'), Buffer.alloc(30_000, 0x31), Buffer.from('}')];
      const res = await send(`${nginx.url}/chunked`, { method: 'POST', body: pieces, chunked: true });
      assert.equal(res.status, 200);
      const c = last();
      const whole = Buffer.concat(pieces);
      assert.equal(c.vars.get('CONTENT_LENGTH'), String(whole.length));
      assert.ok(c.body.equals(whole));
    });

    test('DELETE without a body: vars, then end', async () => {
      const res = await send(`${nginx.url}/items/1`, { method: 'DELETE' });
      assert.equal(res.status, 200);
      const c = last();
      assert.equal(c.vars.get('REQUEST_METHOD'), 'DELETE');
      assert.equal(c.body.length, 0);
      assert.doesNotMatch(nginx.errorLog(), /\[(error|crit|alert)\]/);
    });
  });
}
