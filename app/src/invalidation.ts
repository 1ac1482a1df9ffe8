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
import pg from 'pg';

export const INVALIDATE_CHANNEL = 'identity_invalidate';

export class Invalidation {
  #enabled = false;
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

  invalidate(): void {
    this.generation++;
  }

  enable(on: boolean): void {
    this.invalidate();
    this.#enabled = on;
  }
}

/** Listens for invalidations; reconnects after a failure. Returns a function that stops it. */
export function listenForInvalidations(
  connectionString: string | undefined,
  invalidation: Invalidation,
): () => Promise<void> {
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;
  const connect = async () => {
    const c = new pg.Client(connectionString ? { connectionString } : {});
    client = c;
    c.on('notification', () => invalidation.invalidate());
    c.on('error', () => {
      invalidation.enable(false);
      void c.end().catch(() => {});
      if (!stopped) retry = setTimeout(connect, 1000);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${INVALIDATE_CHANNEL}`);
      if (!stopped) invalidation.enable(true);
    } catch {
      invalidation.enable(false);
      await c.end().catch(() => {});
      if (!stopped) retry = setTimeout(connect, 1000);
    }
  };
  void connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    invalidation.enable(false);
    await client?.end().catch(() => {});
  };
}
