/** Keystone's JSON shapes for tokens, projects and versions, and its time format. */
import type { FastifyRequest } from 'fastify';
import type { RoleRow } from '../assignment/service.js';
import type { CatalogEntry } from '../catalog/service.js';
import type { GroupRow, UserListRow } from '../identity/service.js';
import type { DomainRecord, DomainRow, ProjectRow } from '../resource/service.js';
import type { TokenContext } from '../token/service.js';

/** Keystone's timestamps: microseconds and a Z (2015-11-07T02:58:43.578887Z). */
export function keystoneTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The service's base URL: the configured public endpoint, else the request's scheme and Host. */
export function baseUrl(request: FastifyRequest, publicEndpoint: string | null): string {
  if (publicEndpoint) return publicEndpoint;
  return `${request.protocol}://${request.headers.host ?? 'localhost'}`;
}

export function versionDocument(base: string) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

export function renderProject(project: ProjectRow, base: string) {
  return {
    ...project.extra,
    id: project.id,
    name: project.name,
    domain_id: project.domain_id,
    description: project.description,
    enabled: project.enabled,
    is_domain: project.is_domain,
    parent_id: project.parent_id ?? project.domain_id,
    tags: project.tags,
    options: project.options ?? {},
    links: { self: `${base}/v3/projects/${project.id}` },
  };
}

export function renderDomain(domain: DomainRow & Partial<DomainRecord>, base: string) {
  return {
    ...domain.extra,
    id: domain.id,
    name: domain.name,
    description: domain.description,
    enabled: domain.enabled,
    tags: domain.tags ?? [],
    options: domain.options ?? {},
    links: { self: `${base}/v3/domains/${domain.id}` },
  };
}

/** A domain as a project acting as a domain (`is_domain: true`), as Keystone lists them. */
export function renderDomainAsProject(domain: DomainRecord, base: string) {
  return {
    ...domain.extra,
    id: domain.id,
    name: domain.name,
    domain_id: null,
    description: domain.description,
    enabled: domain.enabled,
    is_domain: true,
    parent_id: null,
    tags: domain.tags,
    options: domain.options,
    links: { self: `${base}/v3/projects/${domain.id}` },
  };
}

/**
 * A user: the password never, `default_project_id` and `description` only when set. Built
 * property by property (no spreads): lists render a thousand of these per request.
 */
export function renderUser(user: UserListRow, base: string) {
  const out: Record<string, unknown> = {};
  for (const key in user.extra) out[key] = user.extra[key];
  out.id = user.id;
  out.name = user.name;
  out.domain_id = user.domain_id;
  out.enabled = user.enabled;
  if (user.default_project_id) out.default_project_id = user.default_project_id;
  if (user.description) out.description = user.description;
  out.password_expires_at = user.password_expires_at
    ? keystoneTime(user.password_expires_at.getTime())
    : null;
  out.options = user.options;
  const federated = (user as { federated?: unknown[] }).federated;
  if (federated) out.federated = federated;
  out.links = { self: `${base}/v3/users/${user.id}` };
  return out;
}

export function renderGroup(group: GroupRow, base: string) {
  return {
    ...group.extra,
    id: group.id,
    name: group.name,
    domain_id: group.domain_id,
    description: group.description,
    links: { self: `${base}/v3/groups/${group.id}` },
  };
}

/** The token body, key order as Keystone's render_token. */
export function renderToken(context: TokenContext, catalog: CatalogEntry[] | null, issuedAtMs: number) {
  const { payload, user } = context;
  const token: Record<string, unknown> = {
    methods: payload.methods,
    user: {
      domain: { id: user.domain_id, name: user.domain_name },
      id: user.id,
      name: user.name,
      password_expires_at: user.password_expires_at ? keystoneTime(user.password_expires_at.getTime()) : null,
    },
    audit_ids: payload.auditIds,
    expires_at: keystoneTime(payload.expiresAt),
    issued_at: keystoneTime(issuedAtMs),
  };
  if (context.trust) {
    const { trust, trustor, trustee } = context.trust;
    token['OS-TRUST:trust'] = {
      id: trust.id,
      trustor_user: { id: trustor.id },
      trustee_user: { id: trustee.id },
      impersonation: trust.impersonation,
    };
  }
  if (context.project) {
    token.project = {
      domain: { id: context.project.domain_id, name: context.project.domain_name },
      id: context.project.id,
      name: context.project.name,
    };
    // Keystone's trust-scoped body has no is_domain.
    if (!context.trust) token.is_domain = false;
  } else if (context.domain) {
    token.domain = { id: context.domain.id, name: context.domain.name };
  } else if (payload.scope.kind === 'system') {
    token.system = { all: true };
  }
  if (payload.scope.kind !== 'unscoped') {
    token.roles = context.trust
      ? (context.roles as RoleRow[]).map((r) => ({
          id: r.id,
          name: r.name,
          domain_id: r.domain_id,
          description: r.description === '' ? null : r.description,
          options: r.options,
        }))
      : context.roles.map((r) => ({ id: r.id, name: r.name }));
    if (catalog) token.catalog = catalog;
  }
  if (payload.federated) {
    // Keystone's federated user: the provider, protocol and mapped groups; no password expiry.
    const federatedUser = token.user as Record<string, unknown>;
    delete federatedUser.password_expires_at;
    federatedUser['OS-FEDERATION'] = {
      groups: payload.federated.groupIds.map((id) => ({ id })),
      identity_provider: { id: payload.federated.idpId },
      protocol: { id: payload.federated.protocolId },
    };
  }
  if (context.oauth1)
    token['OS-OAUTH1'] = {
      access_token_id: context.oauth1.accessTokenId,
      consumer_id: context.oauth1.consumerId,
    };
  if (context.applicationCredential) {
    token.application_credential = {
      id: context.applicationCredential.id,
      name: context.applicationCredential.name,
      restricted: !context.applicationCredential.unrestricted,
      ...(context.accessRules ? { access_rules: context.accessRules } : {}),
    };
  }
  return { token };
}
