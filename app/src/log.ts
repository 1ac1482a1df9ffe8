/**
 * The identity service's log: fastify's own logger (pino), one JSON object per line on stderr in
 * the gateway's shape ({"level":"info","time":"…","msg":…}), each line of a request carrying its
 * requestId (and the client's globalRequestId when it sent a valid one, as Keystone logs it).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import cluster from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import type { IdentityConfig } from './config.js';

/**
 * Keystone's request id format (oslo.middleware request_id.ID_FORMAT): only such an id is taken
 * from a header, so a header cannot forge anything else into a log line.
 */
export const REQUEST_ID_FORMAT = /^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** Credentials never reach a line, whatever a caller logs by mistake. */
export const redactPaths = [
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["x-subject-token"]',
  '*.password',
  '*.secret',
  '*.token',
];

export interface LogOptions {
  level: IdentityConfig['logLevel'];
  /** false: stderr written synchronously (one request per process, as in CGI). */
  async?: boolean;
  /** Where lines go instead of stderr (tests). */
  write?: (line: string) => void;
}

export function createAppLogger(options: LogOptions): pino.Logger {
  const write = options.write;
  const destination = write
    ? { write: (line: string) => write(line) }
    : pino.destination({ fd: 2, sync: options.async === false });
  return pino(
    {
      level: options.level,
      // Inside the gateway a worker's lines carry its worker id, as the gateway's own do.
      base: cluster.isWorker
        ? { role: 'app', worker: cluster.worker?.id, pid: process.pid }
        : { role: 'app', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    destination,
  );
}

/** The current request's logger, for code below the routes (the database pool's slow queries). */
export const requestLog = new AsyncLocalStorage<FastifyBaseLogger>();
