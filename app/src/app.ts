/**
 * build(): the identity service as a fastify instance, never listening. The gateway hosts its
 * `routing` function (handler.ts); tests use inject(); the CGI entry answers one request with it.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { applicationCredentialRoutes } from './api/application-credentials.js';
import { authRoutes } from './api/auth.js';
import { keystoneBodies } from './api/body.js';
import { catalogRoutes } from './api/catalog.js';
import type { PluginOptions } from './api/context.js';
import { credentialRoutes } from './api/credentials.js';
import { discoveryRoutes } from './api/discovery.js';
import { domainConfigRoutes } from './api/domain-configs.js';
import { domainRoutes } from './api/domains.js';
import { ec2Routes } from './api/ec2.js';
import { endpointFilterRoutes } from './api/endpoint-filter.js';
import { federationRoutes } from './api/federation.js';
import { grantRoutes } from './api/grants.js';
import { groupRoutes } from './api/groups.js';
import { limitRoutes } from './api/limits.js';
import { oauth1Routes } from './api/oauth1.js';
import { passwordRoutes } from './api/password.js';
import { policyRoutes } from './api/policies.js';
import { projectRoutes } from './api/projects.js';
import { baseUrl } from './api/render.js';
import { roleRoutes } from './api/roles.js';
import { trustRoutes } from './api/trusts.js';
import { userRoutes } from './api/users.js';
import type { IdentityConfig } from './config.js';
import { createPool, type Db, type DbTimeouts, isDatabaseUnavailable } from './db.js';
import { AuthReceiptRequired, expectedAttribute, IdentityError, type IdentityErrorCode } from './errors.js';
import { listenForInvalidations } from './invalidation.js';
import { REQUEST_ID_FORMAT, requestLog } from './log.js';
import { httpDuration, httpRequests } from './metrics.js';
import { createServices, type Services } from './services.js';

export interface BuildOptions {
  config: IdentityConfig;
  /** A pool to use (and leave open); by default the app opens its own and closes it on close(). */
  db?: Db;
  /** The log (see log.ts); none by default. */
  logger?: FastifyBaseLogger;
  /** false: no validation cache and no LISTEN connection (one request per process, as in CGI). */
  cache?: boolean;
  /** When tokens are issued, revocations stamped and lockouts timed (default the database's); tests move it. */
  clock?: () => number;
}

/** Statuses fastify itself produces (parser, router, limits), as Keystone errors. */
const errorCodeForStatus: Record<number, IdentityErrorCode> = {
  400: 'IDN_ERR_VALIDATION',
  404: 'IDN_ERR_NOT_FOUND',
  405: 'IDN_ERR_METHOD_NOT_ALLOWED',
  413: 'IDN_ERR_TOO_LARGE',
  415: 'IDN_ERR_UNSUPPORTED_MEDIA',
};

const plugins = [
  discoveryRoutes,
  authRoutes,
  passwordRoutes,
  catalogRoutes,
  endpointFilterRoutes,
  domainRoutes,
  projectRoutes,
  userRoutes,
  groupRoutes,
  roleRoutes,
  grantRoutes,
  credentialRoutes,
  applicationCredentialRoutes,
  policyRoutes,
  domainConfigRoutes,
  oauth1Routes,
  ec2Routes,
  trustRoutes,
  federationRoutes,
  limitRoutes,
];

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/**
 * fastify's per-request lines: one line per request when it ends, with the method, the route and
 * the status (info), instead of one at its start and one at its end; the start only at debug.
 */
class RequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const fields = {
      method: request.method,
      url: request.url,
      route: request.routeOptions.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}

export async function build(options: BuildOptions): Promise<FastifyInstance> {
  const { config } = options;
  const db =
    options.db ??
    createPool(
      config.databaseUrl,
      10,
      options.logger ? { log: options.logger, slowMs: config.slowQueryMs } : null,
      databaseTimeouts(config),
    );
  const ownsDb = !options.db;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    logController: new RequestLogs({ requestIdLogLabel: 'requestId' }),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: config.maxRequestBodySize,
    // The id nginx made for this request (X-Request-Id, already in Keystone's form), so nginx's,
    // the gateway's and the app's lines share it; a new one when there is none.
    genReqId: (req) => {
      const id = req.headers['x-request-id'];
      return typeof id === 'string' && REQUEST_ID_FORMAT.test(id) ? id : `req-${randomUUID()}`;
    },
    // Keystone's schemas reject a number where a string belongs; fastify's default would coerce.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const services = createServices(db, config, undefined, options.clock);
  // Caches work only while invalidations can be heard (see invalidation.ts).
  const stopListening =
    options.cache === false
      ? null
      : listenForInvalidations(config.databaseUrl, services.invalidation, {
          heartbeatMs: config.invalidationHeartbeat * 1000,
          connectTimeoutMs: config.databaseConnectTimeout * 1000,
          log: app.log,
        });
  app.decorate('services', services);
  app.decorateRequest('caller', null);
  app.decorateRequest('baseUrl', {
    getter(this: FastifyRequest) {
      return baseUrl(this, config.publicEndpoint);
    },
  });

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('vary', 'X-Auth-Token');
    reply.header('x-openstack-request-id', request.id);
    // Keystone keeps its own request id and records a valid one the client sent as the global
    // request id (oslo.middleware RequestId), on every line of the request.
    const global = request.headers['x-openstack-request-id'];
    if (typeof global === 'string' && REQUEST_ID_FORMAT.test(global))
      request.log = reply.log = request.log.child({ globalRequestId: global });
    const run = () => requestLog.run(request.log, done);
    // What this request reads from a cache is at least as new as every write finished before it
    // came, through whichever worker or replica (a revoked token is refused everywhere at once).
    const { invalidation } = services;
    if (invalidation.enabled) void invalidation.sync().then(run);
    else run();
  });

  // Requests by route (the pattern, never the ids in the path) and status, and their latency.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpRequests.inc({ method: request.method, route, status: reply.statusCode });
    httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });

  keystoneBodies(app);
  app.setErrorHandler((error: FastifyError | IdentityError, request, reply) => {
    let err: IdentityError;
    if (error instanceof IdentityError) err = error;
    else if (error.validation) err = new IdentityError('IDN_ERR_VALIDATION', schemaMessage(error));
    else if (isDatabaseUnavailable(error)) {
      // PostgreSQL is down, restarting, out of connections or too slow: the client may retry.
      request.log.warn({ err: error, method: request.method, url: request.url }, 'database unavailable');
      err = databaseUnavailable();
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      err = expectedAttribute('application/json', 'Content-Type header');
    else if (error.statusCode && errorCodeForStatus[error.statusCode]) {
      err = new IdentityError(
        errorCodeForStatus[error.statusCode] as IdentityErrorCode,
        publicMessage(error),
      );
    } else {
      // The details (SQL, stack) go to the log only.
      request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
      err = new IdentityError(
        'IDN_ERR_INTERNAL',
        'An unexpected error prevented the server from fulfilling your request.',
      );
    }
    if (err.status === 401) {
      request.log.warn(
        { reason: err.detail ?? err.message, method: request.method, url: request.url },
        'authentication failed',
      );
      // A receipt answer is Keystone's receipt handler's, which names no authentication scheme.
      if (!(err instanceof AuthReceiptRequired))
        reply.header('www-authenticate', `Keystone uri="${baseUrl(request, config.publicEndpoint)}/v3"`);
    }
    if (err.headers) reply.headers(err.headers);
    reply.code(err.status).type('application/json').send(err.body());
  });
  // Every route's path as a pattern: a known path asked with another method is 405, as Keystone
  // (Flask) answers, where fastify would say 404.
  const paths: RegExp[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
    paths.push(new RegExp(`^${pattern.replace(/\/+$/, '')}/?$`));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] as string) || '/';
    const err = paths.some((p) => p.test(path))
      ? new IdentityError('IDN_ERR_METHOD_NOT_ALLOWED', 'The method is not allowed for the requested URL.')
      : new IdentityError('IDN_ERR_NOT_FOUND', 'The resource could not be found.');
    reply.code(err.status).type('application/json').send(err.body());
  });

  const pluginOptions: PluginOptions = { services, config };
  for (const plugin of plugins) await app.register(plugin, pluginOptions);
  app.addHook('onClose', async () => {
    await stopListening?.();
    if (ownsDb) await db.end();
  });
  await app.ready();
  return app;
}

/** The service's bounds on PostgreSQL (IDENTITY_DATABASE_*_TIMEOUT), for every pool it opens. */
export function databaseTimeouts(config: IdentityConfig): DbTimeouts {
  return {
    connectMs: config.databaseConnectTimeout * 1000,
    statementMs: config.databaseStatementTimeout * 1000,
  };
}

/** Keystone's body for a 503: the database cannot answer now; worth a retry in a second. */
const databaseUnavailable = () =>
  new IdentityError(
    'IDN_ERR_UNAVAILABLE',
    'The service is temporarily unable to reach its database. Please retry later.',
    { headers: { 'retry-after': '1' } },
  );

/**
 * A schema failure worded as Keystone's validator words it: "Invalid input for field
 * 'user/name': …" where the failure has a path inside the body, the bare message otherwise.
 */
function schemaMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  const path = first?.instancePath.replace(/^\//, '') ?? '';
  const message = first?.message ?? error.message;
  return error.validationContext === 'body' && path !== ''
    ? `Invalid input for field '${path}': ${message}`
    : `Invalid input for ${error.validationContext ?? 'request'}: ${message}`;
}

/** fastify's own messages for client errors are safe to show; anything else gets a generic one. */
function publicMessage(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return expectedAttribute('valid JSON', 'request body').message;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'Request Entity Too Large';
  return error.message;
}
