/**
 * The plain listener of the test API (no framework), in its own module so the CGI program that
 * wraps it starts fast.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

export const BIG = Buffer.alloc(1024 * 1024, 'abcdefghijklmnopqrstuvwxyz');
export const aborts: string[] = [];
/** `started` (app name) when a /wait request has begun its response; `aborted` (name) as it is pushed to `aborts`. */
export const waits = new EventEmitter();

export function aborted(name: string): void {
  aborts.push(name);
  waits.emit('aborted', name);
}

/** Resolves once every name is in `aborts`; fails after `timeoutMs`. */
export function abortsSeen(names: string[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waits.off('aborted', check);
      reject(
        new Error(`aborts seen: [${aborts.join(',')}], waited ${timeoutMs} ms for [${names.join(',')}]`),
      );
    }, timeoutMs);
    const check = () => {
      if (!names.every((n) => aborts.includes(n))) return;
      waits.off('aborted', check);
      clearTimeout(timer);
      resolve();
    };
    waits.on('aborted', check);
    check();
  });
}

export function info(req: IncomingMessage) {
  return {
    method: req.method,
    url: req.url,
    ip: req.socket.remoteAddress,
    port: req.socket.remotePort,
    encrypted: Boolean((req.socket as { encrypted?: boolean }).encrypted),
    host: req.headers.host,
    cookie: req.headers.cookie ?? null,
    token: req.headers['x-auth-token'] ?? null,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function waitForAbort(res: ServerResponse, name: string) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.write('started\n');
  res.on('close', () => {
    if (!res.writableFinished) aborted(name);
  });
  waits.emit('started', name);
}

export const plain: RequestListener = (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/info') {
    const body = JSON.stringify(info(req));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else if (path === '/echo') {
    readBody(req).then((body) => {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
      res.end(body);
    });
  } else if (path === '/nothing') {
    res.writeHead(204).end();
  } else if (path === '/not-modified') {
    res.writeHead(304, { etag: '"x"' }).end();
  } else if (path === '/big') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    Readable.from([BIG.subarray(0, 300_000), BIG.subarray(300_000)]).pipe(res);
  } else if (path === '/redirect') {
    res.writeHead(302, { location: '/info' }).end();
  } else if (path === '/wait') {
    waitForAbort(res, 'plain');
  } else if (path === '/throw') {
    throw new Error('boom');
  } else if (path === '/chunked') {
    res.writeHead(200, { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' });
    res.write('hello ');
    res.end('world');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
};
