/** The PostgreSQL pool and the transaction helper. Only repositories run SQL. */
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { requestLog } from './log.js';

export type Db = pg.Pool;
export type Tx = pg.PoolClient;
export type Queryable = pg.Pool | pg.PoolClient;

export interface PoolLog {
  log: FastifyBaseLogger;
  /** Queries taking at least this many ms are logged with their SQL text (never their values). */
  slowMs: number;
}

/** What bounds a connection and a query: no request waits on PostgreSQL for ever. */
export interface DbTimeouts {
  /** To get a connection: a new one (TCP, TLS, authentication), or a free one from the pool. */
  connectMs: number;
  /**
   * A statement's run: the server's statement_timeout cancels it (SQLSTATE 57014), and the client
   * gives up as long again after that, for a server that no longer answers at all (a half-open
   * connection, a frozen host); the connection it was on is then dropped, never reused.
   */
  statementMs?: number;
}

export function createPool(
  connectionString: string | undefined,
  max = 10,
  logging: PoolLog | null = null,
  timeouts: DbTimeouts | null = null,
): Db {
  const pool = new pg.Pool({
    ...(connectionString ? { connectionString } : {}),
    max,
    ...(timeouts ? { connectionTimeoutMillis: timeouts.connectMs } : {}),
    ...(timeouts?.statementMs
      ? { statement_timeout: timeouts.statementMs, query_timeout: 2 * timeouts.statementMs }
      : {}),
  });
  // An idle connection that the server drops (restart, failover) must not take the process down;
  // the pool replaces it on the next query.
  pool.on('error', (err) => {
    if (logging) logging.log.warn({ err }, 'PostgreSQL connection lost');
    else process.emitWarning(`PostgreSQL connection lost: ${err.message}`);
  });
  if (logging) pool.on('connect', (client) => timeQueries(client, logging));
  return pool;
}

/** Wraps one connection's query(): pool.query() and transactions both end up there. */
function timeQueries(client: pg.PoolClient, { log, slowMs }: PoolLog): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const started = performance.now();
    // The request's logger, taken now: the callback runs in the connection's context.
    const target = requestLog.getStore() ?? log;
    const first = args[0];
    const report = () => {
      const ms = performance.now() - started;
      if (ms < slowMs) return;
      const sql = typeof first === 'string' ? first : (first as { text?: unknown } | undefined)?.text;
      target.warn({ ms: Math.round(ms * 10) / 10, sql: String(sql ?? '').slice(0, 500) }, 'slow query');
    };
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (...results: unknown[]) => {
        report();
        return (callback as (...r: unknown[]) => unknown)(...results);
      };
      return query(...args);
    }
    const result = query(...args);
    if (result instanceof Promise) result.then(report, report);
    return result;
  };
}

/** SQLSTATEs that say the server cannot serve now, whatever the statement was. */
const unavailableStates = new Set([
  '57P01', // admin_shutdown: the server is stopping (fast or smart shutdown, a restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery
  '57014', // query_canceled: the statement timeout
  '53300', // too_many_connections
  '25006', // read_only_sql_transaction: a standby took the writes (a failover in progress)
]);
/** node-postgres' own words for a connection it lost or could not make in time. */
const unavailableMessages =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed)/;
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * True for an error that says PostgreSQL is unreachable or cannot serve now (down, restarting,
 * out of connections, too slow), not that the request was wrong: the API answers it with 503,
 * and the connection it happened on is not reused.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (unavailableStates.has(e.code) || socketCodes.has(e.code))) return true;
  if (typeof e.code === 'string' && e.code.startsWith('08')) return true; // connection_exception
  if (typeof e.message === 'string' && unavailableMessages.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
export async function transaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A lost or stuck connection is dropped, not rolled back: the server rolls back what it had,
    // and a ROLLBACK queued behind a statement that never ends would wait as long again.
    if (isDatabaseUnavailable(err)) broken = err as Error;
    else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}
