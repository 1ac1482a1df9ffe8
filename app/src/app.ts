/**
 * build(): the identity service as a fastify instance, never listening. The gateway hosts its
 * `routing` function; tests use inject(); the CGI entry answers one request with it.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { authRoutes } from './api/auth.js';
import { baseUrl } from './api/render.js';
import type { IdentityConfig } from './config.js';
import { createPool, type Db } from './db.js';
import { IdentityError } from './errors.js';
import { listenForInvalidations, ValidationCache } from './token/cache.js';
import { keyLoader } from './token/keys.js';
import { TokenService } from './token/service.js';

export interface BuildOptions {
  config: IdentityConfig;
  db?: Db;
  logger?: boolean;
  /** false: no validation cache (one request per process, as in CGI mode). */
  cache?: boolean;
}

const errorCodeForStatus: Record<number, IdentityError['code']> = {
  400: 'IDN_ERR_VALIDATION',
  404: 'IDN_ERR_NOT_FOUND',
  405: 'IDN_ERR_METHOD_NOT_ALLOWED',
  413: 'IDN_ERR_TOO_LARGE',
  415: 'IDN_ERR_UNSUPPORTED_MEDIA',
};

export async function build(options: BuildOptions): Promise<FastifyInstance> {
  const { config } = options;
  const db = options.db ?? createPool(config.databaseUrl);
  const ownsDb = !options.db;
  const app = Fastify({
    logger: options.logger ?? false,
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: 1024 * 1024,
    genReqId: () => `req-${randomUUID()}`,
  });
  // Keys are re-read when the repository changes (one stat per use), so a rotation needs no restart.
  const cache = new ValidationCache();
  const stopListening = options.cache === false ? null : listenForInvalidations(config.databaseUrl, cache);
  const tokens = new TokenService({
    db,
    cache,
    keys: keyLoader(config.fernetKeyRepository),
    expiration: config.tokenExpiration,
    allowExpiredWindow: config.allowExpiredWindow,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('vary', 'X-Auth-Token');
    reply.header('x-openstack-request-id', request.id);
  });

  app.setErrorHandler((error: FastifyError | IdentityError, request, reply) => {
    let err: IdentityError;
    if (error instanceof IdentityError) err = error;
    else if (error.validation || error.statusCode === 400) {
      err = new IdentityError('IDN_ERR_VALIDATION', error.message);
    } else if (error.statusCode && errorCodeForStatus[error.statusCode]) {
      err = new IdentityError(errorCodeForStatus[error.statusCode] as IdentityError['code'], error.message);
    } else {
      request.log.error({ err: error }, 'request failed');
      err = new IdentityError(
        'IDN_ERR_INTERNAL',
        'An unexpected error prevented the server from fulfilling your request.',
      );
    }
    if (err.status === 401) {
      if (err.detail) request.log.info({ reason: err.detail }, 'authentication failed');
      reply.header('www-authenticate', `Keystone uri="${baseUrl(request, config.publicEndpoint)}/v3"`);
    }
    reply.code(err.status).type('application/json').send(err.body());
  });
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send(new IdentityError('IDN_ERR_NOT_FOUND', 'The resource could not be found.').body());
  });

  await app.register(authRoutes, { db, tokens, publicEndpoint: config.publicEndpoint, cache });
  app.addHook('onClose', async () => {
    await stopListening?.();
    if (ownsDb) await db.end();
  });
  await app.ready();
  return app;
}
