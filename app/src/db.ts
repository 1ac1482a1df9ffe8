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

export function createPool(
  connectionString: string | undefined,
  max = 10,
  logging: PoolLog | null = null,
): Db {
  const pool = new pg.Pool({ ...(connectionString ? { connectionString } : {}), max });
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

/** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
export async function transaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
