/**
 * The token provider: issues Fernet tokens over Keystone's payloads and validates them by
 * rebuilding the token from current state (user and project enabled, effective roles, revocation
 * events), so validation needs no row per token and any change takes effect at once. Results are
 * kept in the service's own per-process cache (cache.ts), which follows the "identity state
 * changed" signal that LISTEN/NOTIFY keeps coherent (../invalidation.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AssignmentService } from '../assignment/service.js';
import type { CredentialService } from '../credential/service.js';
import { forbidden, IdentityError } from '../errors.js';
import type { IdentityService } from '../identity/service.js';
import type { Invalidation } from '../invalidation.js';
import type { ResourceService } from '../resource/service.js';
import type { TrustRow, TrustService } from '../trust/service.js';
import { ValidationCache } from './cache.js';
import type { TokenContext } from './context.js';
import { decrypt, encrypt, type FernetKey } from './fernet.js';
import {
  decodePayload,
  encodePayload,
  type Federation,
  type Method,
  type Scope,
  type TokenPayload,
} from './payload.js';
import type { RevocationService } from './revocation.js';

// The context type has its own module (nothing below the token service needs the service for it).
export { credentialsOf, type TokenContext } from './context.js';

/** The lowest OpenStack-Identity-Access-Rules version that enforces access rules (Keystone's). */
export const ACCESS_RULES_MIN_VERSION = 1.0;

/** Whether a validator's OpenStack-Identity-Access-Rules header says it enforces access rules. */
function understandsAccessRules(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return false;
  const version = Number(header.trim());
  return Number.isFinite(version) && version >= ACCESS_RULES_MIN_VERSION;
}

/** What validation reads of an access token: gone once it (or its consumer or user) is deleted. */
export interface OAuth1Tokens {
  findAccessToken(id: string): Promise<{ consumer_id: string } | null>;
  delegatedRoleIds(accessTokenId: string): Promise<string[]>;
}

export interface TokenServiceOptions {
  keys: () => FernetKey[];
  /** Seconds. */
  expiration: number;
  /** Seconds past expiry that ?allow_expired accepts. */
  allowExpiredWindow: number;
  identity: IdentityService;
  resource: ResourceService;
  assignment: AssignmentService;
  credential: CredentialService;
  revocation: RevocationService;
  /** OS-OAUTH1's access tokens, which `oauth1` tokens are validated against. */
  oauth1?: OAuth1Tokens;
  trusts: TrustService;
  /**
   * A federated token's provider and protocol: gone, or the provider disabled, or the token
   * issued before `tokens_valid_after` (the mapping changed), and the token is no longer valid.
   */
  federation?: {
    tokenSource(
      idpId: string,
      protocolId: string,
    ): Promise<{ enabled: boolean; tokens_valid_after: Date } | null>;
  };
  /** The "identity state changed" signal; without it nothing is cached. */
  invalidation?: Invalidation;
  /** Milliseconds since the epoch (Date.now); tests move it instead of waiting for the wall clock. */
  clock?: () => number;
}

const tokenNotFound = (message = 'Failed to validate token') =>
  new IdentityError('IDN_ERR_TOKEN_NOT_FOUND', message);

/** 16 random bytes, base64url without padding (22 characters), as Keystone's audit ids. */
export const newAuditId = () => randomBytes(16).toString('base64url');

export class TokenService {
  readonly #o: TokenServiceOptions;
  readonly #cache: ValidationCache | undefined;
  readonly #clock: () => number;

  constructor(options: TokenServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#cache = options.invalidation ? new ValidationCache(options.invalidation) : undefined;
  }

  /**
   * A token string (Fernet, base64url with the padding stripped, as Keystone's). `notAfter`: the
   * latest expiry (an application credential's own), milliseconds.
   */
  issue(
    userId: string,
    methods: Method[],
    scope: Scope,
    options: {
      expiresAt?: number;
      notAfter?: number;
      parentAuditIds?: string[];
      now?: number;
      federated?: Federation;
    } = {},
  ): { token: string; payload: TokenPayload } {
    // Keystone mints tokens on whole seconds: issued_at is the Fernet timestamp, expires_at follows.
    const now = Math.floor((options.now ?? this.#clock()) / 1000) * 1000;
    const payload: TokenPayload = {
      userId,
      methods,
      scope,
      expiresAt: Math.min(options.expiresAt ?? now + this.#o.expiration * 1000, options.notAfter ?? Infinity),
      // A rescoped token carries its own audit id and the chain's first one.
      auditIds: options.parentAuditIds?.length
        ? [newAuditId(), options.parentAuditIds.at(-1) as string]
        : [newAuditId()],
      ...(options.federated ? { federated: options.federated } : {}),
    };
    const [primary] = this.#o.keys();
    if (!primary) throw new IdentityError('IDN_ERR_INTERNAL', 'No Fernet key is available.');
    const token = encrypt(primary, encodePayload(payload), now).toString('base64url');
    return { token, payload };
  }

  /**
   * Decrypts and rebuilds a token from current state; 404 TokenNotFound when that fails.
   * `accessRules`: the validator's OpenStack-Identity-Access-Rules header. A token whose
   * application credential has access rules is valid only for a validator that enforces them
   * (Keystone's _validate_token_access_rules); anyone else would treat it as unrestricted.
   */
  async validate(
    token: string,
    options: { allowExpired?: boolean; accessRules?: string | undefined } = {},
  ): Promise<TokenContext> {
    // The cache holds unexpired tokens only: ?allow_expired validations go around it.
    const context =
      options.allowExpired || !this.#cache
        ? await this.#validate(token, options)
        : await this.#cache.get(token, this.#clock(), () => this.#validate(token, options));
    if (context.accessRules && !understandsAccessRules(options.accessRules)) throw tokenNotFound();
    return context;
  }

  async #validate(token: string, options: { allowExpired?: boolean }): Promise<TokenContext> {
    if (!/^[A-Za-z0-9_-]{40,1024}$/.test(token)) throw tokenNotFound('Could not recognize Fernet token');
    const decrypted = decrypt(this.#o.keys(), Buffer.from(token, 'base64url'));
    if (!decrypted) throw tokenNotFound('Could not recognize Fernet token');
    let payload: TokenPayload;
    try {
      payload = decodePayload(decrypted.message);
    } catch {
      throw tokenNotFound('Could not recognize Fernet token');
    }
    const window = options.allowExpired ? this.#o.allowExpiredWindow * 1000 : 0;
    if (payload.expiresAt + window <= this.#clock()) throw tokenNotFound();
    const issuedAt = decrypted.timestamp * 1000;
    const scope = payload.scope;
    const projectId = 'projectId' in scope ? scope.projectId : null;
    // A trust-scoped token needs its trust usable (Keystone's get_trust): an event naming the
    // trustor revokes it too.
    const trust = scope.kind === 'trust' ? await this.#trust(scope.trustId) : null;
    const [user, revoked] = await Promise.all([
      this.#o.identity.getUser(payload.userId),
      this.#o.revocation.isRevoked({
        auditIds: payload.auditIds,
        userId: trust ? [payload.userId, trust.trustor_user_id] : payload.userId,
        projectId,
        domainId: scope.kind === 'domain' ? scope.domainId : null,
        issuedAt: new Date(issuedAt),
      }),
    ]);
    if (!user?.enabled || !user.domain_enabled || revoked) throw tokenNotFound();
    const federated = payload.federated;
    if (federated) {
      const source = await this.#o.federation?.tokenSource(federated.idpId, federated.protocolId);
      if (!source?.enabled || issuedAt < source.tokens_valid_after.getTime()) throw tokenNotFound();
    }
    const groupIds = federated?.groupIds;
    const context: TokenContext = {
      payload,
      issuedAt,
      user,
      project: null,
      domain: null,
      roles: [],
      trust: null,
      applicationCredential: null,
      accessRules: null,
    };
    const { assignment, resource } = this.#o;
    if (scope.kind === 'project' || scope.kind === 'application_credential' || scope.kind === 'oauth1') {
      const project = await resource.project({ id: scope.projectId });
      if (!project?.enabled || !project.domain_enabled) throw tokenNotFound();
      context.project = project;
      context.roles = await assignment.effectiveRoles(user.id, { type: 'project', id: project.id }, groupIds);
      if (scope.kind === 'application_credential') {
        const credential = await this.#o.credential.applicationCredential(scope.applicationCredentialId);
        if (!credential || (credential.expires_at && credential.expires_at.getTime() <= this.#clock()))
          throw tokenNotFound();
        // The credential's roles, as far as the user still holds them.
        const held = new Set(context.roles.map((r) => r.id));
        context.roles = (await this.#o.credential.applicationCredentialRoles(credential.id)).filter((r) =>
          held.has(r.id),
        );
        context.applicationCredential = credential;
        const rules = await this.#o.credential.accessRulesOf(credential.id);
        context.accessRules = rules.length > 0 ? rules : null;
      }
      if (scope.kind === 'oauth1') {
        // Keystone's _get_oauth_roles: the delegated roles (and those they imply) the user still
        // holds there. A deleted access token (or consumer) leaves nothing to validate against.
        const access = await this.#o.oauth1?.findAccessToken(scope.accessTokenId);
        if (!access) throw tokenNotFound();
        const delegated = new Set(await this.#o.oauth1?.delegatedRoleIds(scope.accessTokenId));
        context.roles = context.roles.filter((r) => delegated.has(r.id));
        context.oauth1 = { accessTokenId: scope.accessTokenId, consumerId: access.consumer_id };
      }
    } else if (scope.kind === 'trust' && trust) {
      await this.#trustScope(context, trust, scope.projectId);
    } else if (scope.kind === 'domain') {
      const domain = await resource.domain({ id: scope.domainId });
      if (!domain?.enabled) throw tokenNotFound();
      context.domain = domain;
      context.roles = await assignment.effectiveRoles(user.id, { type: 'domain', id: domain.id }, groupIds);
    } else if (scope.kind === 'system') {
      context.roles = await assignment.effectiveRoles(user.id, { type: 'system', id: 'all' });
    }
    // A scoped token whose roles are all gone is no longer valid (Keystone rebuilds it the same way).
    if (scope.kind !== 'unscoped' && context.roles.length === 0) throw tokenNotFound();
    return context;
  }

  /** The token's trust, usable; 404 TokenNotFound when it is deleted, expired or used up. */
  async #trust(id: string): Promise<TrustRow> {
    try {
      return await this.#o.trusts.getTrust(id);
    } catch (err) {
      if (err instanceof IdentityError && err.code === 'IDN_ERR_NOT_FOUND') throw tokenNotFound();
      throw err;
    }
  }

  /**
   * Keystone's token model for a trust: the token's user must be the trustee (403), the trustor
   * enabled (403) in an enabled domain (404), the project the trust's, and the roles the trust's
   * as far as the trustor still holds them (403 "Trustee has no delegated roles" when one is gone).
   * Under impersonation the token acts as the trustor.
   */
  async #trustScope(context: TokenContext, trust: TrustRow, projectId: string): Promise<void> {
    if (context.user.id !== trust.trustee_user_id) throw forbidden();
    if (trust.project_id !== projectId) throw tokenNotFound();
    const [trustor, project] = await Promise.all([
      this.#o.identity.getUser(trust.trustor_user_id),
      this.#o.resource.project({ id: projectId }),
    ]);
    if (!project?.enabled || !project.domain_enabled) throw tokenNotFound();
    if (!trustor?.domain_enabled) throw tokenNotFound();
    if (!trustor.enabled) throw forbidden();
    context.project = project;
    context.roles = await this.#o.trusts.delegatedRoles(trust);
    context.trust = { trust, trustor, trustee: context.user };
    if (trust.impersonation) context.user = trustor;
  }

  /** DELETE /v3/auth/tokens: this token and every token rescoped from it. */
  revoke(context: TokenContext): Promise<void> {
    return this.#o.revocation.revokeToken(
      context.payload.auditIds[0] as string,
      new Date(context.payload.expiresAt),
    );
  }
}
