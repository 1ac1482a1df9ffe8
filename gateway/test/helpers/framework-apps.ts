/**
 * One small API in each framework the differential harness runs: plain text, JSON, an echoed
 * body, a streamed body, 204, a redirect, a 404 and a handler that throws (the framework's own
 * error answer). Hono runs on Web Request/Response through @hono/node-server, which writes the
 * Response body to ServerResponse as Uint8Array chunks.
 */
import type { RequestListener } from 'node:http';
import { Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import {
  createApp,
  createRouter,
  defineEventHandler,
  readRawBody,
  sendRedirect,
  setResponseHeader,
  setResponseStatus,
  toNodeListener,
} from 'h3';
import { Hono } from 'hono';
import Koa from 'koa';

const parts = ['streamed ', 'in ', 'three pieces'];
const boom = () => {
  throw new Error('a handler failed');
};

export function expressListener(): RequestListener {
  const app = express();
  app.get('/hello', (_req, res) => {
    res.type('text/plain').send('hello');
  });
  app.get('/json', (_req, res) => {
    res.json({ a: 1, b: ['x', 'y'] });
  });
  app.post('/echo', express.raw({ type: () => true, limit: '8mb' }), (req, res) => {
    res.type('application/octet-stream').send(req.body);
  });
  app.get('/stream', (_req, res) => {
    res.type('text/plain');
    Readable.from(parts).pipe(res);
  });
  app.get('/nothing', (_req, res) => {
    res.status(204).end();
  });
  app.get('/redirect', (_req, res) => {
    res.redirect(302, '/hello');
  });
  app.get('/error', boom);
  return app as unknown as RequestListener;
}

export async function fastifyListener(): Promise<RequestListener> {
  const app = Fastify();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 8 << 20 }, (_req, body, done) =>
    done(null, body),
  );
  app.get('/hello', async (_request, reply) => reply.type('text/plain').send('hello'));
  app.get('/json', async () => ({ a: 1, b: ['x', 'y'] }));
  app.post('/echo', async (request, reply) => reply.type('application/octet-stream').send(request.body));
  app.get('/stream', async (_request, reply) => reply.type('text/plain').send(Readable.from(parts)));
  app.get('/nothing', async (_request, reply) => reply.code(204).send());
  app.get('/redirect', async (_request, reply) => reply.redirect('/hello', 302));
  app.get('/error', async () => boom());
  await app.ready();
  return app.routing as unknown as RequestListener;
}

export function koaListener(): RequestListener {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx) => {
    const { method, path } = ctx;
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/hello') ctx.body = 'hello';
      else if (path === '/json') ctx.body = { a: 1, b: ['x', 'y'] };
      else if (path === '/stream') {
        ctx.type = 'text/plain';
        ctx.body = Readable.from(parts);
      } else if (path === '/nothing') ctx.status = 204;
      else if (path === '/redirect') ctx.redirect('/hello');
      else if (path === '/error') boom();
      return;
    }
    if (method === 'POST' && path === '/echo') {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
      ctx.type = 'application/octet-stream';
      ctx.body = Buffer.concat(chunks);
    }
  });
  return app.callback();
}

export function honoListener(): RequestListener {
  const app = new Hono();
  app.get('/hello', (c) => c.text('hello'));
  app.get('/json', (c) => c.json({ a: 1, b: ['x', 'y'] }));
  app.post('/echo', async (c) =>
    c.body(await c.req.arrayBuffer(), 200, { 'content-type': 'application/octet-stream' }),
  );
  app.get('/stream', () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(encoder.encode(part));
        controller.close();
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  });
  app.get('/nothing', (c) => c.body(null, 204));
  app.get('/redirect', (c) => c.redirect('/hello', 302));
  app.get('/error', boom);
  return getRequestListener(app.fetch) as unknown as RequestListener;
}

export function h3Listener(): RequestListener {
  const app = createApp();
  const router = createRouter()
    .get(
      '/hello',
      defineEventHandler(() => 'hello'),
    )
    .get(
      '/json',
      defineEventHandler(() => ({ a: 1, b: ['x', 'y'] })),
    )
    .post(
      '/echo',
      defineEventHandler(async (event) => {
        setResponseHeader(event, 'content-type', 'application/octet-stream');
        return (await readRawBody(event, false)) ?? Buffer.alloc(0);
      }),
    )
    .get(
      '/stream',
      defineEventHandler((event) => {
        setResponseHeader(event, 'content-type', 'text/plain');
        return Readable.from(parts);
      }),
    )
    .get(
      '/nothing',
      defineEventHandler((event) => {
        setResponseStatus(event, 204);
        return null;
      }),
    )
    .get(
      '/redirect',
      defineEventHandler((event) => sendRedirect(event, '/hello', 302)),
    )
    .get('/error', defineEventHandler(boom));
  app.use(router);
  return toNodeListener(app) as unknown as RequestListener;
}

export const frameworks: Array<[string, () => RequestListener | Promise<RequestListener>]> = [
  ['express', expressListener],
  ['fastify', fastifyListener],
  ['koa', koaListener],
  ['hono (@hono/node-server, Web Request/Response)', honoListener],
  ['h3', h3Listener],
];
