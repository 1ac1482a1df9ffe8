import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createNodeResponder } from '../../src/http/adapter.js';
import { createLogger } from '../../src/log.js';
import { aborts, abortsSeen, BIG, expressApp, fastifyApp, plain, waits } from '../helpers/apps.js';
import { nginxParams, runExchange } from '../helpers/exchange.js';

const log = createLogger({ level: 'error', write: () => {} });
let fastify: FastifyInstance;

before(async () => {
  fastify = await fastifyApp();
});
after(async () => {
  await fastify.close();
});

const apps: Array<[string, () => RequestListener]> = [
  ['plain', () => plain],
  ['express', expressApp],
  ['fastify', () => fastify.routing],
];

for (const [name, make] of apps) {
  describe(`adapter hosting a ${name} app`, () => {
    const responder = () => createNodeResponder({ listener: make(), log });

    test('GET answers with a CGI Status line, the body unchunked and no hop-by-hop headers', async () => {
      const res = await runExchange(responder(), { params: nginxParams('GET', '/info?a=%2F&b=2') });
      assert.equal(res.status, 200);
      assert.match(res.raw.toString('latin1'), /^Status: 200 OK\r\n/);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.headers.connection, undefined);
      const info = JSON.parse(res.body.toString());
      assert.equal(info.url, '/info?a=%2F&b=2');
      assert.equal(info.ip, '192.0.2.7');
      assert.equal(info.host, 'localhost:8080');
      assert.equal(info.encrypted, false);
    });

    test('HTTPS=on makes the socket encrypted', async () => {
      const res = await runExchange(responder(), { params: nginxParams('GET', '/info', { HTTPS: 'on' }) });
      const info = JSON.parse(res.body.toString());
      assert.equal(info.encrypted, true);
      if (name === 'fastify') assert.equal(info.protocol, 'https');
    });

    test('a body-less DELETE with empty CONTENT_LENGTH and CONTENT_TYPE is not a 415 or 400', async () => {
      if (name === 'plain') return;
      const res = await runExchange(responder(), { params: nginxParams('DELETE', '/nothing') });
      assert.equal(res.status, 204);
      assert.equal(res.body.length, 0);
    });

    test('a JSON body arriving in pieces reaches the app whole', async () => {
      const payload = Buffer.from(JSON.stringify({ user: { name: 'x'.repeat(5000) } }));
      const pieces = [payload.subarray(0, 7), payload.subarray(7, 3000), payload.subarray(3000)];
      const res = await runExchange(responder(), {
        params: nginxParams('POST', '/echo', {
          CONTENT_TYPE: 'application/json',
          CONTENT_LENGTH: String(payload.length),
        }),
        body: pieces,
      });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body.toString()), JSON.parse(payload.toString()));
    });

    test('a streamed body of unknown length (chunked upload, CONTENT_LENGTH empty) is read', async () => {
      const payload = Buffer.from(JSON.stringify({ n: 1 }));
      const res = await runExchange(responder(), {
        params: nginxParams('POST', '/echo', {
          CONTENT_TYPE: 'application/json',
          HTTP_TRANSFER_ENCODING: 'chunked',
        }),
        body: [payload],
      });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body.toString()), { n: 1 });
    });

    test('HEAD carries headers but no body', async () => {
      const res = await runExchange(responder(), { params: nginxParams('HEAD', '/info') });
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 0);
    });

    test('204 and 304 carry no body', async () => {
      for (const [path, status] of [
        ['/nothing', 204],
        ['/not-modified', 304],
      ] as const) {
        const res = await runExchange(responder(), { params: nginxParams('GET', path) });
        assert.equal(res.status, status);
        assert.equal(res.body.length, 0);
      }
    });

    test('a 1 MB streamed response arrives intact through a congested channel', async () => {
      const res = await runExchange(responder(), { params: nginxParams('GET', '/big'), congestedWrites: 5 });
      assert.equal(res.status, 200);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.ok(res.body.equals(BIG));
    });

    test('redirects keep their Location', async () => {
      const res = await runExchange(responder(), { params: nginxParams('GET', '/redirect') });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location?.[0], '/info');
    });

    test('duplicate cookies and custom headers reach the app', async () => {
      const res = await runExchange(responder(), {
        params: nginxParams('GET', '/info', { HTTP_COOKIE: 'a=1; b=2', HTTP_X_AUTH_TOKEN: 'tok' }),
      });
      const info = JSON.parse(res.body.toString());
      assert.equal(info.cookie, 'a=1; b=2');
      assert.equal(info.token, 'tok');
    });

    test('an aborted request closes the response the app is writing', async () => {
      aborts.length = 0;
      // The app has begun its response when it says so; the abort is seen when the app says so.
      const started = once(waits, 'started');
      const exchange = runExchange(responder(), { params: nginxParams('GET', '/wait') });
      assert.deepEqual(await started, [name]);
      exchange.abort();
      await abortsSeen(name === 'fastify' ? [name, 'fastify-signal'] : [name]);
      assert.ok(aborts.includes(name), `aborts seen: ${aborts.join(',')}`);
    });
  });
}

describe('adapter edge cases', () => {
  test('req.headers and req.headersDistinct are what node:http makes of the same header lines', async () => {
    const lines: Array<[string, string]> = [
      ['X-Dup', 'a'],
      ['X-Dup', 'b'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
      ['Referer', 'http://one.test/'],
      ['Referer', 'http://two.test/'],
      ['Accept', 'text/html'],
      ['Accept', 'application/json'],
    ];
    const seen = (req: IncomingMessage) => ({
      headers: { ...req.headers },
      distinct: { ...req.headersDistinct },
      raw: req.rawHeaders.length,
    });
    // node:http's view, from a real request with these lines on the wire.
    const oracle = await new Promise<ReturnType<typeof seen>>((resolve, reject) => {
      const server = createServer((req, res) => {
        resolve(seen(req));
        res.end();
        server.close();
      }).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const wire = lines.map(([name, value]) => `${name}: ${value}\r\n`).join('');
        connect(port, '127.0.0.1')
          .on('error', reject)
          .end(`GET /info HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: test\r\n${wire}\r\n`);
      });
    });
    let ours: ReturnType<typeof seen> | undefined;
    const listener: RequestListener = (req, res) => {
      ours = seen(req);
      res.end();
    };
    await runExchange(createNodeResponder({ listener, log }), {
      params: nginxParams('GET', '/info'),
      extraParams: lines.flatMap(([name, value]) => [`HTTP_${name.toUpperCase()}`, value]),
    });
    assert.deepEqual(ours, oracle);
  });

  test('a request buffers 16 KiB of its body before it says it is full, in every Node version', async () => {
    // Node 22 raised streams' default high-water mark to 64 KiB; the gateway's bound on the body
    // a multiplexed FastCGI connection buffers counts from the point a request says it is full.
    let seen = -1;
    const listener: RequestListener = (req, res) => {
      seen = req.readableHighWaterMark;
      res.end();
    };
    await runExchange(createNodeResponder({ listener, log }), { params: nginxParams('GET', '/') });
    assert.equal(seen, 16 * 1024);
  });

  test('an app that throws gets a 500, not a crash', async () => {
    const res = await runExchange(createNodeResponder({ listener: plain, log }), {
      params: nginxParams('GET', '/throw'),
    });
    assert.equal(res.status, 500);
  });

  test('what a streaming response writes leaves before its end, each piece in one flush', {
    timeout: 10_000,
  }, async () => {
    // The channel records what has actually been sent: bytes written without `hold`, and held
    // bytes once flush() or end() comes.
    let held: string[] = [];
    const sent: string[] = [];
    const send = () => {
      if (held.length > 0) sent.push(held.join(''));
      held = [];
      if (sent.length > 0) firstSent();
    };
    let resume: () => void = () => {};
    const secondWrite = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let sentBeforeSecond: string[] = [];
    // The second piece is written once the first has left (were the first held until the end,
    // the test would time out instead).
    let firstSent: () => void = () => {};
    const firstLeft = new Promise<void>((resolve) => {
      firstSent = resolve;
    });
    const listener: RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      void firstLeft.then(() => {
        sentBeforeSecond = [...sent];
        res.end('second');
        resume();
      });
    };
    const ended = new Promise<void>((resolve) => {
      const handle = createNodeResponder({ listener, log })(
        Object.entries(nginxParams('GET', '/stream')).flat(),
        {
          write(chunk, hold) {
            held.push(chunk.toString('latin1'));
            if (!hold) send();
            return true;
          },
          flush: send,
          onWritable: (callback) => callback(),
          fail: () => assert.fail('the response was cut short'),
          end() {
            send();
            resolve();
          },
          writeStderr() {},
          resumeInput() {},
          aborted: false,
        },
        { protocol: 'fastcgi', reused: false },
      );
      handle.endBody();
    });
    await secondWrite;
    await ended;
    assert.equal(sentBeforeSecond.length, 1, 'the head and the first piece left before the end');
    assert.match(sentBeforeSecond[0] as string, /^Status: 200 OK\r\n[\s\S]*\r\n\r\nfirst;$/);
    assert.deepEqual(sent.slice(1), ['second']);
  });

  test('an app that asks for chunked framing has it removed', async () => {
    const res = await runExchange(createNodeResponder({ listener: plain, log }), {
      params: nginxParams('GET', '/chunked'),
    });
    assert.equal(res.body.toString(), 'hello world');
    assert.equal(res.headers['transfer-encoding'], undefined);
  });

  test('uwsgi answers with an HTTP status line and Connection: close', async () => {
    const res = await runExchange(createNodeResponder({ listener: plain, log }), {
      params: nginxParams('GET', '/info'),
      context: { protocol: 'uwsgi', reused: false },
    });
    assert.match(res.raw.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(res.headers.status, undefined);
    assert.deepEqual(res.headers.connection, ['close']);
  });

  test('an invalid CONTENT_LENGTH is answered 400 without reaching the app', async () => {
    const res = await runExchange(createNodeResponder({ listener: plain, log }), {
      params: nginxParams('POST', '/echo', { CONTENT_LENGTH: '12abc' }),
    });
    assert.equal(res.status, 400);
  });

  test('fastify answers through the adapter exactly as app.inject() does', async () => {
    const responder = createNodeResponder({ listener: fastify.routing, log });
    const cases: Array<[string, string, string?]> = [
      ['GET', '/info'],
      ['GET', '/nope'],
      ['POST', '/echo', '{"a":[1,2,3]}'],
      ['POST', '/echo', '{"broken"'],
      ['DELETE', '/nothing'],
      ['GET', '/redirect'],
    ];
    for (const [method, url, payload] of cases) {
      const extra: Record<string, string> = payload
        ? { CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(Buffer.byteLength(payload)) }
        : {};
      const ours = await runExchange(responder, {
        params: nginxParams(method, url, extra),
        body: payload ? [Buffer.from(payload)] : [],
      });
      const oracle = await fastify.inject({
        method: method as 'GET',
        url,
        headers: { host: 'localhost:8080', ...(payload ? { 'content-type': 'application/json' } : {}) },
        remoteAddress: '192.0.2.7',
        ...(payload ? { payload } : {}),
      });
      assert.equal(ours.status, oracle.statusCode, `${method} ${url}`);
      const body = ours.body.toString();
      if (url === '/info') {
        const a = JSON.parse(body);
        const b = JSON.parse(oracle.body);
        assert.equal(a.url, b.url);
        assert.equal(a.ip, b.ip);
        assert.equal(a.method, b.method);
      } else {
        assert.equal(body, oracle.body, `${method} ${url}`);
      }
      assert.equal(ours.headers['content-type']?.[0], oracle.headers['content-type'], `${method} ${url}`);
    }
  });
});
