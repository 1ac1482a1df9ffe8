/**
 * "Identity state changed": one per-process signal that every cache derived from identity state
 * (the token service's validation cache, memoised values such as the catalog and the role graph,
 * the API's rendered lists) follows, kept coherent across workers and gateway replicas through
 * PostgreSQL LISTEN/NOTIFY. Any change that can invalidate a token or a cached value (a
 * revocation, user, project, role and catalog changes) notifies `identity_invalidate` (the tables'
 * triggers, migration 0002 and later), and every process listening bumps its generation; the
 * writing process bumps it at once, before its notification comes back. While the listening
 * connection is down nothing may be cached, so a lost notification can never keep a revoked
 * token or a stale value alive.
 *
 * It sits below the services: services and revocation depend on it, it depends on none of them.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';

export const INVALIDATE_CHANNEL = 'identity_invalidate';

export class Invalidation {
  #enabled = false;
  /** 'change' on each invalidation and enable(): wait on it rather than poll. */
  readonly changes = new EventEmitter();
  /** Bumped on every invalidation; a value computed across one is not kept. */
  generation = 0;

  /** True while invalidations can be heard: only then may anything be cached. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * A value derived from identity state (the catalog, say), recomputed after any invalidation
   * and never kept while invalidations cannot be heard.
   */
  memo<T>(compute: () => Promise<T>): () => Promise<T> {
    let kept: { generation: number; value: T } | null = null;
    return async () => {
      if (this.#enabled && kept && kept.generation === this.generation) return kept.value;
      const generation = this.generation;
      const value = await compute();
      if (this.#enabled && generation === this.generation) kept = { generation, value };
      return value;
    };
  }

  #barrier: (() => Promise<void>) | null = null;
  /** Waiting for a barrier not sent yet. */
  #next: Array<() => void> = [];
  /** Waiting for the barrier in flight. */
  #current: Array<() => void> | null = null;

  /**
   * Resolves once every notification committed before this call has been heard, so that what a
   * request reads from a cache is at least as new as every write finished before it arrived (a
   * token revoked through another worker is refused by this one at once, not once its NOTIFY
   * lands). It waits for a round trip on the listening connection sent after the call: PostgreSQL
   * hands a connection the notifications pending for it before it answers the connection's next
   * statement. Calls that come while a round trip is in flight share the next one, so a busy
   * process sends about one per round-trip time. Resolves at once while nothing may be cached.
   */
  sync(): Promise<void> {
    if (!this.#enabled || !this.#barrier) return Promise.resolve();
    return new Promise((resolve) => {
      this.#next.push(resolve);
      if (!this.#current) this.#send();
    });
  }

  /** The listening connection's round trip, set while it is up (see listenForInvalidations). */
  setBarrier(barrier: (() => Promise<void>) | null): void {
    this.#barrier = barrier;
  }

  #send(): void {
    const barrier = this.#barrier;
    if (!barrier || this.#next.length === 0) return;
    const batch = this.#next;
    this.#next = [];
    this.#current = batch;
    void barrier().finally(() => {
      // Released already, when the connection was lost meanwhile.
      if (this.#current !== batch) return;
      this.#current = null;
      for (const resolve of batch) resolve();
      this.#send();
    });
  }

  invalidate(): void {
    this.generation++;
    this.changes.emit('change');
  }

  enable(on: boolean): void {
    this.#enabled = on;
    if (!on) {
      // Nothing is cached from now on: whoever waits has nothing stale to fear.
      const waiting = [...(this.#current ?? []), ...this.#next];
      this.#current = null;
      this.#next = [];
      for (const resolve of waiting) resolve();
    }
    this.invalidate();
  }
}

export interface ListenOptions {
  /**
   * Milliseconds between heartbeats (default 5000). Each one is a NOTIFY on a channel only this
   * connection listens to, sent on the listening connection itself; when a beat has not come back
   * by the next one, the connection is taken for dead: caching stops until LISTEN is back.
   */
  heartbeatMs?: number;
  /** Milliseconds a (re)connection may take before it counts as failed and is tried again. */
  connectTimeoutMs?: number;
  /** Where the connection's ups and downs are told (one line each way, not one per retry). */
  log?: Pick<FastifyBaseLogger, 'info' | 'warn'>;
}

/** The longest a request waits for the listening connection's round trip (Invalidation.sync). */
const BARRIER_TIMEOUT_MS = 1000;

/** The listening connection's application_name, as pg_stat_activity shows it. */
export const LISTEN_APPLICATION_NAME = 'gatehouse-invalidation';

/**
 * Listens for invalidations; reconnects after a failure. Returns a function that stops it.
 *
 * A LISTEN connection can die without an error: a NAT or proxy forgets it, a failover leaves it
 * half-open, and no notification ever arrives again while the caches stay on. So TCP keepalive is
 * on, and the connection notifies itself every `heartbeatMs`: a beat that does not come back turns
 * caching off at once (what was cached is dropped) and the connection is replaced; caching comes
 * back with LISTEN on the new one. A notification lost that way stays unheard for at most two
 * heartbeats.
 */
export function listenForInvalidations(
  connectionString: string | undefined,
  invalidation: Invalidation,
  options: ListenOptions = {},
): () => Promise<void> {
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const log = options.log;
  let stopped = false;
  // Whether the current outage has been told: the first failure is, the retries after it are not.
  let down = false;
  let retry: NodeJS.Timeout | null = null;
  let stopCurrent: (() => Promise<void>) | null = null;

  const connect = async (): Promise<void> => {
    retry = null;
    let socket: Socket | undefined;
    const client = new pg.Client({
      ...(connectionString ? { connectionString } : {}),
      keepAlive: true,
      keepAliveInitialDelayMillis: heartbeatMs,
      application_name: LISTEN_APPLICATION_NAME,
      ...(options.connectTimeoutMs ? { connectionTimeoutMillis: options.connectTimeoutMs } : {}),
      // Kept, so that a connection found dead is closed at once, not after TCP gives up on it.
      stream: () => {
        socket = new Socket();
        return socket;
      },
    });
    // This connection's own heartbeat channel: no other process hears its beats.
    const beats = `identity_heartbeat_${randomBytes(8).toString('hex')}`;
    let sent = 0;
    let heard = 0;
    let timer: NodeJS.Timeout | null = null;
    let lost = false;
    const lose = (err: unknown) => {
      if (lost) return;
      lost = true;
      invalidation.setBarrier(null);
      invalidation.enable(false);
      if (!down && !stopped) {
        down = true;
        log?.warn({ err }, 'not listening for invalidations: caches off until it is back');
      }
      if (timer) clearInterval(timer);
      socket?.destroy();
      void client.end().catch(() => {});
      if (!stopped) retry = setTimeout(connect, Math.min(1000, heartbeatMs));
    };
    client.on('notification', (n) => {
      if (n.channel === beats) heard = Math.max(heard, Number(n.payload));
      else invalidation.invalidate();
    });
    client.on('error', lose);
    client.on('end', () => lose(new Error('the connection ended')));
    stopCurrent = async () => {
      lost = true;
      if (timer) clearInterval(timer);
      await client.end().catch(() => {});
    };
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATE_CHANNEL}`);
      await client.query(`LISTEN ${beats}`);
    } catch (err) {
      lose(err);
      return;
    }
    if (lost || stopped) return;
    // A round trip that fails, or that does not come back within a second (a silently dead
    // connection, found before its heartbeat would), is a lost connection: caching stops and the
    // requests waiting on it go on without the cache.
    invalidation.setBarrier(
      () =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            lose(new Error(`a round trip took longer than ${BARRIER_TIMEOUT_MS} ms`));
            resolve();
          }, BARRIER_TIMEOUT_MS);
          client.query('SELECT 1').then(
            () => {
              clearTimeout(timer);
              resolve();
            },
            (err: unknown) => {
              clearTimeout(timer);
              lose(err);
              resolve();
            },
          );
        }),
    );
    invalidation.enable(true);
    down = false;
    log?.info({ heartbeatMs }, 'listening for invalidations: caches on');
    timer = setInterval(() => {
      if (heard < sent)
        return lose(new Error(`heartbeat ${sent} did not come back within ${heartbeatMs} ms`));
      sent++;
      client.query(`NOTIFY ${beats}, '${sent}'`).catch(lose);
    }, heartbeatMs);
  };
  void connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    invalidation.enable(false);
    await stopCurrent?.();
  };
}
