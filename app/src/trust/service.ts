/**
 * OS-TRUST (keystone/trust/core.py, keystone/api/trusts.py): a trustor delegates some of its
 * roles on a project to a trustee, who then gets trust-scoped tokens. A trust ends when it is
 * deleted, expires or has no uses left; a trust made with a trust-scoped token is a redelegation,
 * bounded by the chain's redelegation_count and never wider than the trust it comes from. Every
 * token of a trust is rebuilt from this state when validated (../token/service.ts), so a change
 * here (or to the trustor's roles, or to either user) takes effect at once.
 */
import { randomUUID } from 'node:crypto';
import type { AssignmentService, RoleRow } from '../assignment/service.js';
import { type Db, transaction } from '../db.js';
import {
  conflict,
  forbidden,
  forbiddenAction,
  IdentityError,
  isUniqueViolation,
  notFound,
  validation,
} from '../errors.js';
import type { IdentityService } from '../identity/service.js';
import type { Invalidation } from '../invalidation.js';
import type { ResourceService } from '../resource/service.js';
import * as repo from './repository.js';

export type { TrustRow } from './repository.js';

/** Keystone's ForbiddenAction wording. */
export const refused = (action: string) =>
  forbiddenAction(`You are not authorized to perform the requested action: ${action}.`);

export const trustNotFound = (id: string) => notFound('trust', id);

/** A create request's fields, as the API's schema lets them through. */
export interface TrustRequest {
  trustor_user_id: string;
  trustee_user_id: string;
  impersonation: boolean;
  project_id?: string | null;
  remaining_uses?: number | null;
  expires_at?: string | null;
  allow_redelegation?: boolean | null;
  redelegation_count?: number | null;
  roles?: ({ id: string } | { name: string })[];
  [extra: string]: unknown;
}

const KNOWN = new Set([
  'id',
  'trustor_user_id',
  'trustee_user_id',
  'impersonation',
  'project_id',
  'remaining_uses',
  'expires_at',
  'allow_redelegation',
  'redelegation_count',
  'roles',
  'deleted_at',
  'redelegated_trust_id',
  'expires_at_int',
]);

/** Keystone's utils.parse_expiration_date: ISO 8601 in UTC, not in the past. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?Z$/;

function parseExpiry(text: string, now: number): string {
  const value = text.endsWith('Z') ? text : `${text}Z`;
  const m = ISO.exec(value);
  const ms = m ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}Z`) : Number.NaN;
  if (!m || Number.isNaN(ms))
    throw validation(
      'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  const micros = (m[7] ?? '').padEnd(6, '0');
  if (ms + Number(micros) / 1000 < now)
    throw validation(
      "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
    );
  return `${new Date(ms).toISOString().slice(0, 19)}.${micros}Z`;
}

export interface TrustOptions {
  /** [trust] max_redelegation_count: the longest chain a trust may start. */
  maxRedelegationCount: number;
  clock?: () => number;
}

export class TrustService {
  readonly #db: Db;
  readonly #identity: IdentityService;
  readonly #resource: ResourceService;
  readonly #assignment: AssignmentService;
  readonly #o: TrustOptions;
  readonly #invalidation: Invalidation | undefined;
  readonly #clock: () => number;

  constructor(
    db: Db,
    deps: { identity: IdentityService; resource: ResourceService; assignment: AssignmentService },
    options: TrustOptions,
    invalidation?: Invalidation,
  ) {
    this.#db = db;
    this.#identity = deps.identity;
    this.#resource = deps.resource;
    this.#assignment = deps.assignment;
    this.#o = options;
    this.#invalidation = invalidation;
    this.#clock = options.clock ?? Date.now;
  }

  /** The trust when it is usable (not deleted, not expired, uses left); null otherwise. */
  async #usable(id: string): Promise<repo.TrustRow | null> {
    const trust = await repo.trustById(this.#db, id);
    if (!trust || trust.deleted_at) return null;
    if (trust.expires_at && trust.expires_at.getTime() < this.#clock()) return null;
    if (trust.remaining_uses !== null && trust.remaining_uses <= 0) return null;
    return trust;
  }

  /** The trust and the trusts it was redelegated from, nearest first (404 when one is gone). */
  async pedigree(id: string): Promise<repo.TrustRow[]> {
    const chain: repo.TrustRow[] = [];
    let next: string | null = id;
    while (next) {
      const trust = await this.#usable(next);
      if (!trust) throw trustNotFound(next);
      chain.push(trust);
      next = trust.redelegated_trust_id;
      if (chain.length > this.#o.maxRedelegationCount + 2) throw forbidden();
    }
    return chain;
  }

  /**
   * Keystone's get_trust: 404 when the trust is deleted, expired or used up; a redelegated trust
   * also needs every trust above it valid and every trustee above it enabled (403 otherwise).
   */
  async getTrust(id: string): Promise<repo.TrustRow> {
    const trust = await this.#usable(id);
    if (!trust) throw trustNotFound(id);
    if (trust.redelegated_trust_id) {
      const chain = await this.pedigree(id);
      for (let i = 1; i < chain.length; i++) {
        const parent = chain[i] as repo.TrustRow;
        this.#validateRedelegation(parent, candidateOf(chain[i - 1] as repo.TrustRow));
        const agent = await this.#identity.getUser(parent.trustee_user_id);
        if (!agent?.enabled) throw forbidden();
      }
    }
    return trust;
  }

  list(filter: { trustorUserId?: string; trusteeUserId?: string }): Promise<repo.TrustRow[]> {
    return repo.listTrusts(this.#db, filter);
  }

  /** The roles shown for a trust: those that still exist. */
  async roles(trust: repo.TrustRow): Promise<RoleRow[]> {
    const roles = await Promise.all(trust.role_ids.map((id) => this.#assignment.role(id)));
    return roles.filter((r): r is RoleRow => r !== null);
  }

  /**
   * The roles a trust-scoped token carries: the trust's roles and those they imply, every one
   * still held by the chain's first trustor on the project (403 "Trustee has no delegated roles"
   * otherwise, as Keystone); domain-specific roles are left out.
   */
  async delegatedRoles(trust: repo.TrustRow): Promise<RoleRow[]> {
    if (!trust.project_id) throw forbidden();
    const trustor = trust.redelegated_trust_id
      ? ((await this.pedigree(trust.id)).at(-1) as repo.TrustRow).trustor_user_id
      : trust.trustor_user_id;
    const [wanted, held] = await Promise.all([
      repo.impliedClosure(this.#db, trust.role_ids),
      repo.heldRoleIds(this.#db, trustor, trust.project_id),
    ]);
    const holds = new Set(held);
    const roles: RoleRow[] = [];
    for (const { id, role } of wanted) {
      if (!holds.has(id) || !role) throw forbidden();
      if (role.domain_id === null) roles.push(role);
    }
    return roles.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * A new trust from `callerId`'s token; `sourceTrustId` is the trust of a trust-scoped caller
   * (a redelegation). Keystone's checks, in its order.
   */
  async create(
    request: TrustRequest,
    callerId: string,
    sourceTrustId: string | null,
  ): Promise<repo.TrustRow> {
    if (request.project_id && !request.roles?.length) throw refused('At least one role should be specified');
    if (callerId !== request.trustor_user_id)
      throw refused('The authenticated user should match the trustor');
    if (!(await this.#identity.getUser(request.trustee_user_id)))
      throw notFound('user', request.trustee_user_id);
    const roleIds: string[] = [];
    for (const role of request.roles ?? []) {
      if ('id' in role) roleIds.push(role.id);
      else {
        const [found] = await this.#assignment.listRoles({ name: role.name });
        if (!found) throw notFound('role', role.name);
        roleIds.push(found.id);
      }
    }
    // The trustor must hold every role on the project (a trust without a project delegates none).
    let held = new Set<string>();
    if (request.project_id) {
      await this.#resource.requireProject(request.project_id);
      held = new Set(await repo.heldRoleIds(this.#db, request.trustor_user_id, request.project_id));
    }
    for (const id of roleIds) if (!held.has(id)) throw notFound('role', id);
    let source: repo.TrustRow | null = null;

    const now = this.#clock();
    let expiresAt = request.expires_at == null ? null : parseExpiry(request.expires_at, now);
    if (sourceTrustId) source = await this.getTrust(sourceTrustId);

    // keystone/trust/core.py create_trust
    const max = this.#o.maxRedelegationCount;
    let count = request.redelegation_count ?? null;
    const redelegatable = request.allow_redelegation === true && count !== 0;
    const remainingUses = request.remaining_uses ?? null;
    if (!redelegatable) {
      count = 0;
      if (remainingUses !== null && remainingUses <= 0)
        throw validation('remaining_uses must be a positive integer or null.');
    } else {
      if (count !== null && count > max) throw forbidden();
      if (remainingUses !== null)
        throw validation('remaining_uses must not be set if redelegation is allowed');
    }
    const candidate: Candidate = {
      impersonation: request.impersonation,
      remaining_uses: remainingUses,
      expiresAt,
      roleIds,
    };
    if (source) {
      const remaining = (source.redelegation_count ?? 0) - 1;
      if (redelegatable && count && count !== remaining) throw forbidden();
      count ??= remaining;
      for (const t of await this.pedigree(source.id)) {
        this.#validateRedelegation(t, candidate);
        expiresAt = candidate.expiresAt;
      }
    }
    count ??= max;

    const id = randomUUID().replaceAll('-', '');
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(request)) if (!KNOWN.has(k)) extra[k] = v;
    try {
      await transaction(this.#db, (tx) =>
        repo.insertTrust(tx, {
          id,
          trustorUserId: request.trustor_user_id,
          trusteeUserId: request.trustee_user_id,
          projectId: request.project_id ?? null,
          impersonation: request.impersonation,
          expiresAt,
          remainingUses,
          redelegatedTrustId: source?.id ?? null,
          redelegationCount: count,
          extra,
          roleIds,
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('trust', 'Duplicate entry');
      throw err;
    }
    this.#invalidation?.invalidate();
    return (await repo.trustById(this.#db, id)) as repo.TrustRow;
  }

  /** keystone/trust/core.py _validate_redelegation: a trust made from `parent` is no wider. */
  #validateRedelegation(parent: repo.TrustRow, trust: Candidate): void {
    const depth = parent.redelegation_count ?? 0;
    if (!(depth > 0 && depth <= this.#o.maxRedelegationCount)) throw forbidden();
    if (trust.remaining_uses !== null) throw forbidden();
    const parentExpiry = parent.expires_text ? `${parent.expires_text}Z` : null;
    if (trust.expiresAt) {
      if (parent.expires_at && Date.parse(trust.expiresAt) > parent.expires_at.getTime()) throw forbidden();
    } else if (parentExpiry) trust.expiresAt = parentExpiry;
    const parentRoles = new Set(parent.role_ids);
    if (!trust.roleIds.every((r) => parentRoles.has(r))) throw forbidden();
    if (!parent.impersonation && trust.impersonation) throw forbidden();
  }

  /** Deletes the trust and, first, the trusts redelegated from it (Keystone's order). */
  async delete(id: string): Promise<void> {
    const trust = await repo.trustById(this.#db, id);
    if (!trust || trust.deleted_at) throw trustNotFound(id);
    const children = await repo.listTrusts(this.#db, {
      trustorUserId: trust.trustor_user_id,
      redelegatedTrustId: id,
    });
    for (const child of children) {
      try {
        await this.delete(child.id);
      } catch (err) {
        // Deleted meanwhile by another request: the chain is gone either way.
        if (!(err instanceof IdentityError && err.code === 'IDN_ERR_NOT_FOUND')) throw err;
      }
    }
    if ((await repo.softDelete(this.#db, [id])) === 0) throw trustNotFound(id);
    this.#invalidation?.invalidate();
  }

  /**
   * Uses one use of the trust after a token was issued from it: 403 when none is left (another
   * request took the last one), 404 when the trust is gone.
   */
  async consumeUse(id: string): Promise<void> {
    const { result, remaining } = await repo.consumeUse(this.#db, id);
    if (result === 'gone') throw trustNotFound(id);
    if (result === 'exhausted') throw forbiddenAction(`No remaining uses for trust: ${id}.`);
    // The last use makes the trust unusable: its tokens with it (the trigger tells other processes).
    if (remaining === 0) this.#invalidation?.invalidate();
  }
}

/** A trust being created or checked against the trust it is redelegated from. */
interface Candidate {
  impersonation: boolean;
  remaining_uses: number | null;
  /** Set from the parent's when not given. */
  expiresAt: string | null;
  roleIds: string[];
}

const candidateOf = (t: repo.TrustRow): Candidate => ({
  impersonation: t.impersonation,
  remaining_uses: t.remaining_uses,
  expiresAt: t.expires_text ? `${t.expires_text}Z` : null,
  roleIds: t.role_ids,
});
