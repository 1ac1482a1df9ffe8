/**
 * The whole per-request path of one kept-alive FastCGI connection in one process, against
 * node:http's own: no nginx, no kernel, no second process sharing the cores, so two builds or
 * the two servers compare within a few per cent where an end-to-end run moves by fifteen.
 *
 * - fastcgi: the records nginx sends for a GET (BEGIN_REQUEST, PARAMS, STDIN) go into a
 *   FastcgiSession as one read of a socket stand-in; the session decodes them, the adapter runs
 *   the hello listener, and the response records are written back to the stand-in.
 * - http: the same request as HTTP/1.1 bytes go into a node:http Server through a Duplex, which
 *   parses them (llhttp, from JavaScript: slightly dearer than its path from a real socket) and
 *   runs the same listener.
 * - fastcgi-unscoped: the fastcgi side with the per-request AsyncLocalStorage scope off
 *   (GATEWAY_REQUEST_SCOPE=false), so the scope's own cost is the ratio of two figures of one run.
 *
 * Each side runs in a process of its own, alternating, and the figure is CPU microseconds per
 * request (user + system, from process.cpuUsage): the lowest of the rounds, and their mean.
 *
 *   node gateway/dist/bench/session.js [ROUNDS] [REQUESTS_PER_ROUND]
 */
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import createHello from '../examples/hello/index.js';
import { createNodeResponder } from '../src/http/adapter.js';
import { createLogger } from '../src/log.js';
import {
  encodeBeginRequest,
  encodeParams,
  encodeRecord,
  RecordType,
  Role,
} from '../src/protocol/fastcgi/index.js';
import { FastcgiSession } from '../src/session/fastcgi.js';
import { nginxParams } from './nginx-request.js';

const WARM_UP = 20_000;

/** What nginx sends for `GET /hello` with a few headers. */
const params = nginxParams('/hello', {
  HTTP_USER_AGENT: 'wrk',
  HTTP_ACCEPT: '*/*',
  HTTP_X_REQUEST_ID: '9c64e17272a52072ac79b52c2ade3ae0',
});

/** The same request as HTTP/1.1, as nginx's proxy_pass sends it. */
const httpRequest = Buffer.from(
  'GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n' +
    'X-Request-Id: 9c64e17272a52072ac79b52c2ade3ae0\r\nConnection: keep-alive\r\n\r\n',
);

/** Sends one request and resolves once its response has been written. */
type Send = () => Promise<void>;

/** Just enough of a net.Socket for a FastcgiSession: it counts what is written to it. */
class SocketStandIn extends EventEmitter {
  writableNeedDrain = false;
  writableEnded = false;
  writableLength = 0;
  destroyed = false;
  remoteAddress = '127.0.0.1';
  written: (() => void) | null = null;

  setTimeout(): this {
    return this;
  }
  pause(): void {}
  resume(): void {}
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
  write(_data: Buffer, callback?: () => void): boolean {
    if (callback) process.nextTick(callback);
    const written = this.written;
    this.written = null;
    written?.();
    return true;
  }
}

function fastcgi(listener: RequestListener, requestScope: boolean): Send {
  const log = createLogger({ level: 'error', write: () => {} });
  const socket = new SocketStandIn();
  const limits = {
    maxParamsSize: 65535,
    maxReqs: 1,
    mpxs: false,
    maxConns: 64,
    maxBufferedBody: 1 << 20,
    idleTimeoutMs: 60_000,
    headerTimeoutMs: 10_000,
    bodyTimeoutMs: 60_000,
    stderr: false,
  };
  const stats = {
    connections: 1,
    acceptedConnections: 1,
    requestsInFlight: 0,
    requestsTotal: 0,
    keepAliveReuses: 0,
    aborted: 0,
    protocolErrors: 0,
    timedOut: 0,
    refusedConnections: 0,
  };
  const responder = createNodeResponder({ listener, log, requestScope });
  new FastcgiSession(socket as unknown as Socket, { responder, log, limits, stats });
  const request = Buffer.concat([
    encodeBeginRequest(1, Role.Responder, 1),
    encodeParams(1, params),
    encodeRecord(RecordType.Stdin, 1),
  ]);
  return () =>
    new Promise<void>((resolve) => {
      socket.written = resolve;
      socket.emit('data', request);
    });
}

function http(listener: RequestListener): Send {
  let written: (() => void) | null = null;
  const done = () => {
    const resolve = written;
    written = null;
    resolve?.();
  };
  const connection = new (class extends Duplex {
    remoteAddress = '127.0.0.1';
    override _read(): void {}
    override _write(_chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
      callback();
      done();
    }
    override _writev(_chunks: unknown[], callback: () => void): void {
      callback();
      done();
    }
    setTimeout(): this {
      return this;
    }
    setNoDelay(): this {
      return this;
    }
    setKeepAlive(): this {
      return this;
    }
  })();
  createServer(listener).emit('connection', connection);
  return () =>
    new Promise<void>((resolve) => {
      written = resolve;
      connection.push(httpRequest);
    });
}

async function measure(side: string, requests: number): Promise<number> {
  const listener = await createHello();
  const send = side === 'http' ? http(listener) : fastcgi(listener, side === 'fastcgi');
  for (let i = 0; i < WARM_UP; i++) await send();
  const start = process.cpuUsage();
  for (let i = 0; i < requests; i++) await send();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / requests;
}

/** The request scope on (the default) and off, and node:http, alternating in every round. */
const sides = ['fastcgi', 'fastcgi-unscoped', 'http'] as const;
type Side = (typeof sides)[number];

const [first, second, third] = process.argv.slice(2);
if (first === '--side') {
  const us = await measure(second as string, Number(third));
  process.stdout.write(`${us}\n`);
  process.exit(0);
}
const rounds = Number(first ?? 5);
const requests = Number(second ?? 200_000);
const self = fileURLToPath(import.meta.url);
const results: Record<Side, number[]> = { fastcgi: [], 'fastcgi-unscoped': [], http: [] };
for (let round = 0; round < rounds; round++) {
  for (const side of sides) {
    const run = spawnSync(process.execPath, [self, '--side', side, String(requests)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${side}: ${run.stderr}`);
    results[side].push(Number(run.stdout));
  }
}
const summary = (values: number[]) => ({
  min: Math.min(...values),
  mean: values.reduce((a, b) => a + b, 0) / values.length,
});
const f = summary(results.fastcgi);
const u = summary(results['fastcgi-unscoped']);
const h = summary(results.http);
console.log(`Node ${process.version}`);
console.log(`| path | CPU µs/request, lowest of ${rounds} | mean |`);
console.log('|---|---|---|');
console.log(`| fastcgi session + adapter | ${f.min.toFixed(2)} | ${f.mean.toFixed(2)} |`);
console.log(`| the same, GATEWAY_REQUEST_SCOPE=false | ${u.min.toFixed(2)} | ${u.mean.toFixed(2)} |`);
console.log(`| node:http | ${h.min.toFixed(2)} | ${h.mean.toFixed(2)} |`);
console.log(`| fastcgi / node:http | ${(f.min / h.min).toFixed(2)} | ${(f.mean / h.mean).toFixed(2)} |`);
console.log(
  `| request scope's cost (scoped / unscoped) | ${(f.min / u.min).toFixed(2)} | ${(f.mean / u.mean).toFixed(2)} |`,
);
