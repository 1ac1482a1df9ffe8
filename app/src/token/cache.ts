/**
 * The token service's per-process cache of validated tokens. It follows the "identity state
 * changed" signal (../invalidation.ts): every invalidation empties it, nothing is kept while
 * invalidations cannot be heard, and a validation that straddles an invalidation is not kept.
 */
import type { Invalidation } from '../invalidation.js';
import { tokenValidations } from '../metrics.js';
import type { TokenContext } from './context.js';

export class ValidationCache {
  readonly #invalidation: Invalidation;
  readonly #entries = new Map<string, TokenContext>();
  readonly #max: number;
  /** The invalidation generation the entries were computed in. */
  #generation: number;

  constructor(invalidation: Invalidation, max = 10_000) {
    this.#invalidation = invalidation;
    this.#max = max;
    this.#generation = invalidation.generation;
  }

  /**
   * The cached context for the token when it is still unexpired at `now`; otherwise `validate()`'s
   * result, kept when it was computed entirely after the last invalidation.
   */
  async get(token: string, now: number, validate: () => Promise<TokenContext>): Promise<TokenContext> {
    const invalidation = this.#invalidation;
    if (!invalidation.enabled) {
      tokenValidations.inc({ source: 'validated' });
      return validate();
    }
    if (this.#generation !== invalidation.generation) {
      this.#entries.clear();
      this.#generation = invalidation.generation;
    }
    const cached = this.#entries.get(token);
    // A trust-scoped token outlives its trust's expiry (Keystone does not shorten it) but is
    // invalid after it: it is not served from here past either.
    const trustEnds = cached?.trust?.trust.expires_at?.getTime() ?? Infinity;
    if (cached && cached.payload.expiresAt > now && trustEnds > now) {
      tokenValidations.inc({ source: 'cache' });
      return cached;
    }
    tokenValidations.inc({ source: 'validated' });
    const generation = invalidation.generation;
    const context = await validate();
    if (invalidation.enabled && generation === invalidation.generation && this.#generation === generation) {
      if (this.#entries.size >= this.#max) this.#entries.clear();
      this.#entries.set(token, context);
    }
    return context;
  }
}
