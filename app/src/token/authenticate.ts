/**
 * POST /v3/auth/tokens without the HTTP: runs the identity method (password, token,
 * application_credential), resolves the scope (asked for, or the user's default project, or
 * none), and issues the token. Keystone's rules (keystone/api/_shared/authentication.py,
 * keystone/auth/plugins/*).
 */
import type { Target } from '../assignment/service.js';
import { forbidden, forbiddenAction, IdentityError, unauthorized } from '../errors.js';
import { type AssertionSettings, mappedLogin } from '../federation/login.js';
import type { UserRef, UserRow } from '../identity/service.js';
import type { SignedRequest } from '../oauth1/service.js';
import type { Ref } from '../resource/service.js';
import type { Services } from '../services.js';
import { refused, type TrustRow } from '../trust/service.js';
import type { Federation, Method, Scope } from './payload.js';
import { ACCESS_RULES_MIN_VERSION, type TokenContext } from './service.js';

export type IdentityClaim =
  | { method: 'password'; user: UserRef; password: string }
  | { method: 'totp'; user: UserRef; passcode: unknown }
  | { method: 'token'; token: string }
  | {
      method: 'application_credential';
      credential: { id: string } | { name: string; user: UserRef };
      secret: string;
    }
  | { method: 'oauth1'; request: SignedRequest }
  /**
   * A mapped login: the provider and protocol named, the variables the web server set (the
   * assertion), and which of them count. With `token` instead: a federated token re-scoped.
   */
  | {
      method: 'mapped';
      identityProvider: string;
      protocol: string;
      params: Readonly<Record<string, string>> | undefined;
      settings: AssertionSettings;
    }
  | { method: 'mapped'; token: string };

export type ScopeRequest =
  | { kind: 'default' }
  | { kind: 'unscoped' }
  | { kind: 'project'; project: Ref & { domain?: Ref } }
  | { kind: 'domain'; domain: Ref }
  | { kind: 'system' }
  | { kind: 'trust'; trustId: string };

/** What else a multi-factor login brings: more methods naming the same user, and a receipt. */
export interface Factors {
  /** The request's other password or totp methods; each must succeed and name the same user. */
  also?: Array<Extract<IdentityClaim, { method: 'password' | 'totp' }>>;
  /** The Openstack-Auth-Receipt header: the methods of an earlier step of this login. */
  receipt?: string;
}

/** A method that proves who the user is by itself (password, totp). */
function userFactor(
  s: Services,
  claim: Extract<IdentityClaim, { method: 'password' | 'totp' }>,
  signal?: AbortSignal,
): Promise<UserRow> {
  return claim.method === 'password'
    ? s.identity.authenticate(claim.user, claim.password, { signal })
    : s.mfa.authenticateTotp(claim.user, claim.passcode);
}

export interface Issued {
  token: string;
  context: TokenContext;
}

export async function authenticate(
  s: Services,
  claim: IdentityClaim,
  requested: ScopeRequest,
  signal?: AbortSignal,
  factors: Factors = {},
): Promise<Issued> {
  let user: UserRow;
  let methods: Method[];
  let expiresAt: number | undefined;
  let notAfter: number | undefined;
  let parentAuditIds: string[] | undefined;
  let scope: Scope;
  let federated: Federation | undefined;
  // A trust is looked up before the user is authenticated (Keystone's AuthInfo): a trust that
  // is gone, expired or used up is a 401.
  const trust = requested.kind === 'trust' ? await lookupTrust(s, requested.trustId) : null;
  if (claim.method === 'password' || claim.method === 'totp') {
    user = await userFactor(s, claim, signal);
    methods = [claim.method];
    scope = await resolveScope(s, user, requested);
  } else if (claim.method === 'mapped' && 'identityProvider' in claim) {
    const login = await mappedLogin(s, claim.identityProvider, claim.protocol, claim.params, claim.settings);
    user = login.user;
    methods = ['mapped'];
    if (login.kind === 'local') scope = await resolveScope(s, user, requested);
    else {
      // A federated login is unscoped unless a scope is asked for (Keystone skips default scoping).
      federated = { groupIds: login.groupIds, idpId: login.idpId, protocolId: login.protocolId };
      scope = await resolveScope(
        s,
        user,
        requested.kind === 'default' ? { kind: 'unscoped' } : requested,
        federated,
      );
    }
  } else if ((claim.method === 'token' || claim.method === 'mapped') && 'token' in claim) {
    // An invalid token here is Keystone's 404 TokenNotFound, not a 401 (checked against Keystone 22).
    const parent = await s.tokens.validate(claim.token);
    if (parent.payload.federated) {
      // Keystone's handle_scoped_token: the provider still enabled, the groups still there; the
      // expiry stays, the audit chain does not (Keystone starts a new one), and the methods are
      // the token's own after `token` (none added for `mapped`).
      federated = await s.federation.rescopable(parent.payload.federated);
      user = parent.user;
      methods =
        claim.method === 'token' ? [...new Set<Method>(['token', ...parent.payload.methods])] : ['mapped'];
      expiresAt = parent.payload.expiresAt;
      scope = await resolveScope(
        s,
        user,
        requested.kind === 'default' ? { kind: 'unscoped' } : requested,
        federated,
      );
    } else if (claim.method === 'mapped') {
      throw unauthorized('the mapped method re-scopes federated tokens only');
    } else {
      if (parent.trust)
        throw refused(
          'Using trust-scoped token to create another token. Create a new trust-scoped token instead',
        );
      if (parent.applicationCredential)
        throw unauthorized('an application credential token cannot be rescoped');
      if (parent.payload.scope.kind === 'oauth1')
        throw forbiddenAction(
          'You are not authorized to perform the requested action: Using OAuth-scoped token to create another token. Create a new OAuth-scoped token instead.',
        );
      // Keystone's token plugin: an EC2 token is never exchanged for another (its text, with the
      // doubled full stop ForbiddenAction's format gives it).
      if (parent.payload.methods.includes('ec2credential'))
        throw forbiddenAction(
          'You are not authorized to perform the requested action: Using a delegated token to create another token is not allowed..',
        );
      user = parent.user;
      // Rescoping keeps the original expiry and the audit chain; the methods add up.
      methods = [...new Set<Method>(['token', ...parent.payload.methods])];
      expiresAt = parent.payload.expiresAt;
      parentAuditIds = parent.payload.auditIds;
      scope = await resolveScope(s, user, requested);
    }
  } else if (claim.method === 'oauth1') {
    // The access token's project, whatever scope the body names (Keystone's set_scope).
    const access = await s.oauth1.authenticate(claim.request);
    const owner = await s.identity.getUser(access.authorizing_user_id);
    if (!owner) throw unauthorized('the access token user is gone');
    user = owner;
    methods = ['oauth1'];
    scope = { kind: 'oauth1', projectId: access.project_id, accessTokenId: access.id };
  } else {
    if (requested.kind !== 'default') throw unauthorized('application credentials cannot request a scope');
    const ref = claim.credential;
    let owner: UserRow | null = null;
    if ('name' in ref) {
      owner = await s.identity.findUser(ref.user);
      if (!owner) throw unauthorized('application credential owner not found');
    }
    const credential = await s.credential.authenticateApplicationCredential(
      'id' in ref ? { id: ref.id } : { name: ref.name, userId: (owner as UserRow).id },
      claim.secret,
      signal,
    );
    user = owner ?? ((await s.identity.getUser(credential.user_id)) as UserRow);
    methods = ['application_credential'];
    // A token ends no later than its credential (Keystone's issue_token): a cached validation
    // then ends with it too.
    if (credential.expires_at) notAfter = credential.expires_at.getTime();
    scope = {
      kind: 'application_credential',
      projectId: credential.project_id,
      applicationCredentialId: credential.id,
    };
  }
  for (const other of factors.also ?? []) {
    // Keystone's AuthContext: every method must name the same user.
    if ((await userFactor(s, other, signal)).id !== user.id)
      throw unauthorized('Unable to reconcile identity attribute user_id');
    methods.push(other.method);
  }
  if (!user.enabled || !user.domain_enabled) throw unauthorized(`user ${user.id} is disabled`);
  if (trust) {
    // A trust without a project delegates no role: there is nothing to scope a token to.
    if (!trust.project_id) throw forbidden();
    scope = { kind: 'trust', projectId: trust.project_id, trustId: trust.id };
  }
  // Every path (a rescoped token too) meets the user's multi-factor rules or gets a receipt.
  methods = await s.mfa.complete(user, methods, factors.receipt);
  // Issued on the clock revocation events are stamped with, so that one compares with the other.
  const now = await s.revocation.now();
  const { token } = s.tokens.issue(user.id, methods, scope, {
    now,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(notAfter === undefined ? {} : { notAfter }),
    ...(parentAuditIds ? { parentAuditIds } : {}),
    ...(federated ? { federated } : {}),
  });
  let context: TokenContext;
  try {
    // The issuer is no validator: access rules are for the services the token is used at.
    context = await s.tokens.validate(token, { accessRules: String(ACCESS_RULES_MIN_VERSION) });
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_NOT_FOUND')
      throw unauthorized(`user ${user.id} has no role on the requested scope`);
    throw err;
  }
  // A use of a limited trust is taken only once its token is made (Keystone's order).
  if (trust) {
    try {
      await s.trusts.consumeUse(trust.id);
    } catch (err) {
      if (err instanceof IdentityError && err.code === 'IDN_ERR_NOT_FOUND') throw unauthorized(err.message);
      throw err;
    }
  }
  return { token, context };
}

async function lookupTrust(s: Services, id: string): Promise<TrustRow> {
  try {
    return await s.trusts.getTrust(id);
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'IDN_ERR_NOT_FOUND') throw unauthorized(err.message);
    throw err;
  }
}

/**
 * The scope asked for, checked against the user's roles; the default project when none is given.
 * A federated token's groups give roles too; it is unscoped, project or domain scoped only.
 */
async function resolveScope(
  s: Services,
  user: UserRow,
  requested: ScopeRequest,
  federated?: Federation,
): Promise<Scope> {
  if (federated && (requested.kind === 'system' || requested.kind === 'trust'))
    throw unauthorized('a federated token is unscoped, project or domain scoped');
  let scope: Scope;
  let target: Target;
  switch (requested.kind) {
    case 'unscoped':
    case 'trust':
      return { kind: 'unscoped' };
    case 'default': {
      const id = user.default_project_id;
      if (!id) return { kind: 'unscoped' };
      const project = await s.resource.project({ id });
      if (!project?.enabled || !project.domain_enabled) return { kind: 'unscoped' };
      const roles = await s.assignment.effectiveRoles(user.id, { type: 'project', id });
      return roles.length > 0 ? { kind: 'project', projectId: id } : { kind: 'unscoped' };
    }
    case 'project': {
      const project = await s.resource.project(requested.project);
      if (!project?.enabled || !project.domain_enabled) throw unauthorized('project not found or disabled');
      scope = { kind: 'project', projectId: project.id };
      target = { type: 'project', id: project.id };
      break;
    }
    case 'domain': {
      const domain = await s.resource.domain(requested.domain);
      if (!domain?.enabled) throw unauthorized('domain not found or disabled');
      scope = { kind: 'domain', domainId: domain.id };
      target = { type: 'domain', id: domain.id };
      break;
    }
    case 'system':
      scope = { kind: 'system' };
      target = { type: 'system', id: 'all' };
      break;
  }
  const roles = await s.assignment.effectiveRoles(user.id, target, federated?.groupIds);
  if (roles.length === 0) throw unauthorized(`user ${user.id} has no role on the requested scope`);
  return scope;
}
