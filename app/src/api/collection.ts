/**
 * What the identity and resource plugins share: Keystone's collection envelope, member links,
 * name and description schemas with Keystone's limits, and the caller's domain for lists.
 */
import type { FastifyRequest } from 'fastify';
import type { Invalidation } from '../invalidation.js';
import type { TokenContext } from '../token/service.js';

/** `{"<key>":[…],"links":{"self","previous":null,"next":null}}`, self with the query string. */
export function collection<T>(key: string, items: T[], request: FastifyRequest, base: string) {
  return { [key]: items, links: { self: `${base}${request.url}`, previous: null, next: null } };
}

/** Rows rendered against the request's base URL, in Keystone's list envelope. */
export function renderedCollection<Row>(
  key: string,
  rows: Row[],
  render: (row: Row, base: string) => unknown,
  request: FastifyRequest,
) {
  const base = request.baseUrl;
  return collection(
    key,
    rows.map((row) => render(row, base)),
    request,
    base,
  );
}

/** Keystone's names: at least one non-blank character, at most `max` (64 for projects, domains, groups). */
export const name = (max: number) =>
  ({ type: 'string', minLength: 1, maxLength: max, pattern: '\\S' }) as const;
export const id64 = { type: 'string', minLength: 1, maxLength: 64 } as const;
export const nullableId = {
  type: ['string', 'null'],
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-zA-Z0-9-]+$',
} as const;
/** An id in a request body (domain_id …): Keystone's id pattern. */
export const bodyId = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' } as const;
/** Roles by id or by name, one key each: a trust's roles, a request token's authorization. */
export const roleRefs = {
  type: 'array',
  items: {
    type: 'object',
    properties: { id: bodyId, name: name(255) },
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
  },
} as const;
export const description = { type: ['string', 'null'], maxLength: 65535 } as const;
export const tagList = {
  type: 'array',
  maxItems: 80,
  items: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/,]+$' },
} as const;
/** Resource options (`immutable`), null to remove one. */
export const resourceOptions = {
  type: 'object',
  properties: { immutable: { type: ['boolean', 'null'] } },
  additionalProperties: false,
} as const;

/** The attributes of a request body that are not in `known`: Keystone keeps them as `extra`. */
export function extraOf(body: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body))
    if (!known.includes(k) && k !== 'id' && k !== 'links') extra[k] = v;
  return extra;
}

/** A domain-scoped caller lists only its own domain, as Keystone's list calls do. */
export function callerDomain(request: FastifyRequest): string | null {
  return (request.caller as TokenContext | null)?.domain?.id ?? null;
}

/** The target of identity's lists: the caller's domain, or the domain asked for. */
export function domainListTarget(request: FastifyRequest) {
  return { domain_id: callerDomain(request) ?? (request.query as Record<string, unknown>).domain_id };
}

/** Where an object created without a domain_id goes: the caller's domain, else `default`. */
export function defaultDomain(caller: TokenContext): string {
  return caller.domain?.id ?? 'default';
}

/** A path parameter, for targetOf functions (which see an untyped request). */
export function param(request: FastifyRequest, key: string): string {
  return (request.params as Record<string, string>)[key] as string;
}

/**
 * Rendered list bodies, per process, kept until the next invalidation of identity state (any
 * write, in this process at once and in the others through LISTEN/NOTIFY, see invalidation.ts).
 * Nothing is kept while invalidations cannot be heard, and a body computed across an
 * invalidation is not kept. The key must name everything the body depends on (base URL, the
 * caller's domain when it narrows the list, the URL with its query).
 */
export class ListCache {
  readonly #cache: Invalidation;
  readonly #max: number;
  readonly #entries = new Map<string, string>();
  #generation = -1;

  constructor(cache: Invalidation, max = 64) {
    this.#cache = cache;
    this.#max = max;
  }

  async body(key: string, compute: () => Promise<unknown>): Promise<string> {
    const cache = this.#cache;
    if (!cache.enabled) return JSON.stringify(await compute());
    if (this.#generation !== cache.generation) {
      this.#entries.clear();
      this.#generation = cache.generation;
    }
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit;
    const generation = cache.generation;
    const body = JSON.stringify(await compute());
    if (generation === cache.generation && this.#generation === generation) {
      if (this.#entries.size >= this.#max) this.#entries.clear();
      this.#entries.set(key, body);
    }
    return body;
  }
}
