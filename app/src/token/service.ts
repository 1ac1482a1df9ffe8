/**
 * Issues, validates and revokes tokens. A token is a Fernet token over Keystone's payload, so
 * validation needs no row per token: the payload names the user and scope, and the current
 * state (user and project enabled, roles, revocation events) is read from Postgres, so a
 * revocation or a disabled user takes effect at once in every worker.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db.js';
import { IdentityError } from '../errors.js';
import * as repo from '../repository.js';
import type { ValidationCache } from './cache.js';
import { decrypt, encrypt, type FernetKey } from './fernet.js';
import { decodePayload, encodePayload, type Method, type Scope, type TokenPayload } from './payload.js';

export interface TokenContext {
  payload: TokenPayload;
  issuedAt: number;
  user: repo.UserRow;
  project: repo.ProjectRow | null;
  domain: repo.DomainRow | null;
  roles: repo.RoleRef[];
}

export interface TokenServiceOptions {
  db: Db;
  keys: () => FernetKey[];
  expiration: number;
  allowExpiredWindow: number;
  /** Validated tokens, dropped whenever any process changes identity state (see cache.ts). */
  cache?: ValidationCache;
}

const tokenNotFound = (message = 'Failed to validate token') =>
  new IdentityError('IDN_ERR_TOKEN_NOT_FOUND', message);

export const newAuditId = () => randomBytes(16).toString('base64url');

export class TokenService {
  readonly #options: TokenServiceOptions;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
  }

  /** Creates a token string (Fernet, padding stripped, as Keystone's). */
  issue(
    userId: string,
    methods: Method[],
    scope: Scope,
    expiresAt?: number,
    parentAuditId?: string,
  ): {
    token: string;
    payload: TokenPayload;
    issuedAt: number;
  } {
    const now = Date.now();
    const payload: TokenPayload = {
      userId,
      methods,
      scope,
      expiresAt: expiresAt ?? now + this.#options.expiration * 1000,
      auditIds: parentAuditId ? [newAuditId(), parentAuditId] : [newAuditId()],
    };
    const [primary] = this.#options.keys();
    if (!primary)
      throw new IdentityError(
        'IDN_ERR_INTERNAL',
        'An unexpected error prevented the server from fulfilling your request.',
      );
    const token = encrypt(primary, encodePayload(payload), now).toString('base64url');
    return { token, payload, issuedAt: Math.floor(now / 1000) * 1000 };
  }

  /** Decrypts and checks a token against the current state; 404 TokenNotFound when it fails. */
  async validate(token: string, options: { allowExpired?: boolean } = {}): Promise<TokenContext> {
    const cache = options.allowExpired ? undefined : this.#options.cache;
    const cached = cache?.get(token);
    if (cached && cached.payload.expiresAt > Date.now()) return cached;
    const generation = cache?.generation;
    const context = await this.#validate(token, options);
    // Only a result computed entirely after the last invalidation may be kept.
    if (cache && cache.generation === generation) cache.set(token, context);
    return context;
  }

  async #validate(token: string, options: { allowExpired?: boolean }): Promise<TokenContext> {
    if (!/^[A-Za-z0-9_-]{40,1024}$/.test(token)) throw tokenNotFound('Could not recognize Fernet token');
    const decrypted = decrypt(this.#options.keys(), Buffer.from(token, 'base64url'));
    if (!decrypted) throw tokenNotFound('Could not recognize Fernet token');
    let payload: TokenPayload;
    try {
      payload = decodePayload(decrypted.message);
    } catch {
      throw tokenNotFound('Could not recognize Fernet token');
    }
    const window = options.allowExpired ? this.#options.allowExpiredWindow * 1000 : 0;
    if (payload.expiresAt + window <= Date.now()) throw tokenNotFound();
    const issuedAt = decrypted.timestamp * 1000;
    const { db } = this.#options;
    const projectId =
      payload.scope.kind === 'project' || payload.scope.kind === 'application_credential'
        ? payload.scope.projectId
        : null;
    const [user, revoked] = await Promise.all([
      repo.userById(db, payload.userId),
      repo.isRevoked(db, {
        auditIds: payload.auditIds,
        userId: payload.userId,
        projectId,
        issuedAt: new Date(issuedAt),
      }),
    ]);
    if (!user?.enabled || !user.domain_enabled || revoked) throw tokenNotFound();
    const context: TokenContext = { payload, issuedAt, user, project: null, domain: null, roles: [] };
    const scope = payload.scope;
    if (scope.kind === 'project' || scope.kind === 'application_credential') {
      const project = await repo.projectBy(db, { id: scope.projectId });
      if (!project?.enabled || !project.domain_enabled) throw tokenNotFound();
      context.project = project;
      context.roles = await repo.effectiveRoles(db, user.id, { type: 'project', id: project.id });
    } else if (scope.kind === 'domain') {
      const domain = await repo.domainBy(db, { id: scope.domainId });
      if (!domain?.enabled) throw tokenNotFound();
      context.domain = domain;
      context.roles = await repo.effectiveRoles(db, user.id, { type: 'domain', id: domain.id });
    } else if (scope.kind === 'system') {
      context.roles = await repo.effectiveRoles(db, user.id, { type: 'system', id: 'all' });
    }
    // A scoped token whose roles are all gone is no longer valid (Keystone rebuilds it the same way).
    if (scope.kind !== 'unscoped' && context.roles.length === 0) throw tokenNotFound();
    return context;
  }

  async revoke(context: TokenContext): Promise<void> {
    await repo.addRevocation(this.#options.db, {
      auditId: context.payload.auditIds[0] as string,
      expiresAt: new Date(context.payload.expiresAt),
    });

    // This process's own cache must not outlive the revocation until its NOTIFY comes back.
    this.#options.cache?.invalidate();
  }
}
