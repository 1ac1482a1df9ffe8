/**
 * The same small API written three ways — a plain listener, express and fastify — so one suite
 * proves the gateway hosts any of them unchanged.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';

export const BIG = Buffer.alloc(1024 * 1024, 'abcdefghijklmnopqrstuvwxyz');
export const aborts: string[] = [];

function info(req: IncomingMessage) {
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

function waitForAbort(res: ServerResponse, name: string) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.write('started\n');
  res.on('close', () => {
    if (!res.writableFinished) aborts.push(name);
  });
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

export function expressApp(): RequestListener {
  const app = express();
  app.get('/info', (req, res) => {
    res.json(info(req));
  });
  app.post('/echo', express.raw({ type: () => true, limit: '4mb' }), (req, res) => {
    res.type(req.headers['content-type'] ?? 'application/octet-stream').send(req.body);
  });
  app.delete('/nothing', (_req, res) => {
    res.status(204).end();
  });
  app.get('/nothing', (_req, res) => {
    res.status(204).end();
  });
  app.get('/not-modified', (_req, res) => {
    res.status(304).set('etag', '"x"').end();
  });
  app.get('/big', (_req, res) => {
    res.type('application/octet-stream');
    Readable.from([BIG.subarray(0, 300_000), BIG.subarray(300_000)]).pipe(res);
  });
  app.get('/redirect', (_req, res) => {
    res.redirect(302, '/info');
  });
  app.get('/wait', (req, res) => {
    waitForAbort(res, 'express');
  });
  return app as unknown as RequestListener;
}

export async function fastifyApp(): Promise<FastifyInstance> {
  const app = Fastify({ ignoreTrailingSlash: true });
  app.get('/info', async (request) => ({ ...info(request.raw), protocol: request.protocol, ip: request.ip }));
  app.post('/echo', async (request, reply) => {
    reply.type(request.headers['content-type'] ?? 'application/json');
    return request.body;
  });
  app.delete('/nothing', async (_request, reply) => reply.code(204).send());
  app.get('/nothing', async (_request, reply) => reply.code(204).send());
  app.get('/not-modified', async (_request, reply) => reply.code(304).header('etag', '"x"').send());
  app.get('/big', async (_request, reply) => {
    reply.type('application/octet-stream');
    return Readable.from([BIG.subarray(0, 300_000), BIG.subarray(300_000)]);
  });
  app.get('/redirect', async (_request, reply) => reply.redirect('/info', 302));
  app.get('/wait', async (request, reply) => {
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) aborts.push('fastify');
    });
    await new Promise<void>((resolve) => {
      request.signal.addEventListener('abort', () => {
        aborts.push('fastify-signal');
        resolve();
      });
    });
    return 'aborted';
  });
  await app.ready();
  return app;
}
