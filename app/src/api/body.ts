/**
 * Request bodies as Keystone reads them (keystone/server/flask/request_processing/json_body.py):
 * an empty body is no body, whatever its Content-Type (tempest and many scripts PUT grants with
 * `Content-Type: application/json` and nothing after it); a body is JSON when its type says so
 * or when no type is given; it must decode to an object. Anything else is Keystone's 400.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { expectedAttribute } from '../errors.js';

type Done = (err: Error | null, body?: unknown) => void;

export function keystoneBodies(app: FastifyInstance): void {
  // fastify's own parser guards against prototype poisoning; only the empty and non-object
  // cases are decided here.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const json = (request: FastifyRequest, body: string, done: Done) => {
    if (body === '') return done(null, {});
    parseJson(request, body, (err, value) => {
      if (err) return done(err);
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        return done(expectedAttribute('valid JSON', 'request body'));
      done(null, value);
    });
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    json(request, body as string, done),
  );
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text === '') return done(null, {});
    if ((request.headers['content-type'] ?? '') === '') return json(request, text, done);
    done(expectedAttribute('application/json', 'Content-Type header'));
  });
}
