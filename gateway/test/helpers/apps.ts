/**
 * The same small API written three ways — a plain listener, express and fastify — so one suite
 * proves the gateway hosts any of them unchanged.
 */
import type { RequestListener } from 'node:http';
import { Readable } from 'node:stream';
import express from 'express';
import { aborted, BIG, info, waitForAbort, waits } from './plain-app.js';

export { aborts, abortsSeen, BIG, plain, waits } from './plain-app.js';

import Fastify, { type FastifyInstance } from 'fastify';

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
  app.get('/wait', (_req, res) => {
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
      if (!reply.raw.writableFinished) aborted('fastify');
    });
    const done = new Promise<void>((resolve) => {
      request.signal.addEventListener('abort', () => {
        aborted('fastify-signal');
        resolve();
      });
    });
    waits.emit('started', 'fastify');
    await done;
    return 'aborted';
  });
  await app.ready();
  return app;
}
