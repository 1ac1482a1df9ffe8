/**
 * A validated token: its payload and the state it was rebuilt from (the user, the scope's project
 * or domain, the effective roles). What the token service returns and caches, what the API reads
 * the caller from.
 */
import type { RoleRef } from '../assignment/repository.js';
import type { ApplicationCredentialRow } from '../credential/repository.js';
import type { UserRow } from '../identity/repository.js';
import type { Credentials } from '../policy/enforcer.js';
import type { DomainRow, ProjectRow } from '../resource/repository.js';
import type { TrustRow } from '../trust/repository.js';
import type { TokenPayload } from './payload.js';

export interface TokenContext {
  payload: TokenPayload;
  /** Milliseconds since the epoch (whole seconds: the Fernet timestamp). */
  issuedAt: number;
  user: UserRow;
  project: ProjectRow | null;
  domain: DomainRow | null;
  /**
   * A trust-scoped token's roles are Keystone's whole role objects (id, name, domain_id,
   * description, options); other tokens' are id and name.
   */
  roles: RoleRef[];
  /**
   * A trust-scoped token's trust and its two users. `user` is then the user the token acts as:
   * the trustor under impersonation, the trustee (the payload's user) otherwise.
   */
  trust: { trust: TrustRow; trustor: UserRow; trustee: UserRow } | null;
  applicationCredential: ApplicationCredentialRow | null;
  /** The application credential's access rules; null when it has none (or is no credential). */
  accessRules: AccessRule[] | null;
  /** The OAuth1 access token an `oauth1` token was issued through (its OS-OAUTH1 section). */
  oauth1?: { accessTokenId: string; consumerId: string } | null;
}

/** An access rule as a token carries it (Keystone's keys and order). */
export interface AccessRule {
  id: string;
  service: string;
  path: string;
  method: string;
}

/** The caller's token as oslo.policy credentials. */
export function credentialsOf(context: TokenContext): Credentials {
  return {
    user_id: context.user.id,
    user_domain_id: context.user.domain_id,
    project_id: context.project?.id ?? null,
    project_domain_id: context.project?.domain_id ?? null,
    domain_id: context.domain?.id ?? null,
    system_scope: context.payload.scope.kind === 'system' ? 'all' : null,
    roles: context.roles.map((r) => r.name),
  };
}
