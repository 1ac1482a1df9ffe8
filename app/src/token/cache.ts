/**
 * A per-process cache of validated tokens, kept coherent across workers and gateway replicas
 * through PostgreSQL LISTEN/NOTIFY: any change that can invalidate a token (a revocation, and
 * later user, project and role changes) notifies `identity_invalidate`, and every process
 * listening drops its whole cache. While the listening connection is down nothing is cached, so
 * a lost notification can never keep a revoked token alive.
 */
import pg from 'pg';
import type { TokenContext } from './service.js';

export const INVALIDATE_CHANNEL = 'identity_invalidate';

export class ValidationCache {
  readonly #entries = new Map<string, TokenContext>();
  readonly #max: number;
  #enabled = false;
  /** Bumped on every invalidation; a validation that straddles one is not cached. */
  generation = 0;

  constructor(max = 10_000) {
    this.#max = max;
  }

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

  get(token: string): TokenContext | undefined {
    return this.#enabled ? this.#entries.get(token) : undefined;
  }

  set(token: string, context: TokenContext): void {
    if (!this.#enabled) return;
    if (this.#entries.size >= this.#max) this.#entries.clear();
    this.#entries.set(token, context);
  }

  invalidate(): void {
    this.generation++;
    this.#entries.clear();
  }

  enable(on: boolean): void {
    this.invalidate();
    this.#enabled = on;
  }
}

/** Listens for invalidations; reconnects after a failure. Returns a function that stops it. */
export function listenForInvalidations(
  connectionString: string | undefined,
  cache: ValidationCache,
): () => Promise<void> {
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;
  const connect = async () => {
    const c = new pg.Client(connectionString ? { connectionString } : {});
    client = c;
    c.on('notification', () => cache.invalidate());
    c.on('error', () => {
      cache.enable(false);
      void c.end().catch(() => {});
      if (!stopped) retry = setTimeout(connect, 1000);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${INVALIDATE_CHANNEL}`);
      if (!stopped) cache.enable(true);
    } catch {
      cache.enable(false);
      await c.end().catch(() => {});
      if (!stopped) retry = setTimeout(connect, 1000);
    }
  };
  void connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    cache.enable(false);
    await client?.end().catch(() => {});
  };
}
