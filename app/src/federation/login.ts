/**
 * A mapped login (Keystone 22's keystone/auth/plugins/mapped.py): the assertion is what the web
 * server's auth module set in the request's environment, never the client's headers. The
 * provider must be enabled (403), the protocol known (404), the provider's remote ids must
 * include the remote id attribute's value when both are set (401 when it is missing, 403 when it
 * is not one of them); the protocol's mapping turns the assertion into a user and groups (a
 * mapping that yields no identity is a 401). An ephemeral user is shadowed (Keystone's
 * shadow_federated_user: a user in the provider's domain whose id is the sha256 of its domain
 * and unique id, and a federated_user row), the mapping's projects are made in the provider's
 * domain with the user's roles on them; a local user is looked up as it is.
 */
import { createHash } from 'node:crypto';
import { forbidden, IdentityError, notFound, unauthorized } from '../errors.js';
import type { UserRow } from '../identity/service.js';
import type { Services } from '../services.js';
import { type MappedProperties, type Rule, RuleProcessor } from './engine.js';

export interface AssertionSettings {
  /** Keystone's [federation] assertion_prefix: only variables whose names start with it. */
  prefix: string;
  /** Keystone's [federation] remote_id_attribute: the default for protocols that name none. */
  remoteIdAttribute: string | null;
}

/**
 * Keystone's get_assertion_params_from_env over the variables the web server set (the gateway's
 * trusted params; none under plain HTTP). HTTP_* variables are client headers and never count.
 */
export function assertionOf(
  params: Readonly<Record<string, string>> | undefined,
  prefix: string,
): Record<string, string> {
  const assertion: Record<string, string> = {};
  if (!params) return assertion;
  for (const [name, value] of Object.entries(params))
    if (!name.startsWith('HTTP_') && name.startsWith(prefix)) assertion[name] = value;
  return assertion;
}

export type MappedLogin =
  | { kind: 'ephemeral'; user: UserRow; groupIds: string[]; idpId: string; protocolId: string }
  | { kind: 'local'; user: UserRow };

/** Python's urllib.parse.quote (safe '/'): what Keystone makes a federated unique id with. */
export function pyQuote(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.\-~/]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Keystone's sha256 id generator over {domain_id, entity_type: user, local_id} in key order. */
export function shadowUserId(domainId: string, uniqueId: string): string {
  return createHash('sha256').update(domainId).update('user').update(uniqueId).digest('hex');
}

/** Keystone's get_user_unique_id_and_display_name. */
function uniqueIdAndName(user: Record<string, unknown>, remoteUser: string | undefined): [string, string] {
  const id = typeof user.id === 'string' && user.id !== '' ? user.id : null;
  const name = typeof user.name === 'string' && user.name !== '' ? user.name : remoteUser || null;
  if (!id && !name)
    throw unauthorized(
      'Could not map user while setting ephemeral user identity. Either mapping rules must specify user id/name or REMOTE_USER environment variable must be set.',
    );
  return [pyQuote((id ?? name) as string), (name ?? id) as string];
}

export async function mappedLogin(
  s: Services,
  idpId: string,
  protocolId: string,
  params: Readonly<Record<string, string>> | undefined,
  settings: AssertionSettings,
): Promise<MappedLogin> {
  const assertion = assertionOf(params, settings.prefix);
  const idp = await s.federation.getIdp(idpId);
  if (!idp) throw notFound('Identity Provider', idpId);
  if (!idp.enabled)
    throw new IdentityError('IDN_ERR_FORBIDDEN', forbidden().message, {
      detail: `Identity Provider ${idpId} is disabled`,
    });
  const protocol = await s.federation.requireProtocol(idpId, protocolId);
  const remoteIdAttribute = protocol.remote_id_attribute || settings.remoteIdAttribute;
  if (remoteIdAttribute && idp.remote_ids.length > 0) {
    const remoteId = assertion[remoteIdAttribute];
    if (remoteId === undefined)
      throw unauthorized('Could not find Identity Provider identifier in environment');
    if (!idp.remote_ids.includes(remoteId))
      throw new IdentityError('IDN_ERR_FORBIDDEN', forbidden().message, {
        detail: 'Incoming identity provider identifier not included among the accepted identifiers.',
      });
  }
  const mapping = await s.federation.requireMapping(protocol.mapping_id);
  let mapped: MappedProperties;
  try {
    mapped = new RuleProcessor(mapping.id, mapping.rules as Rule[]).process(assertion);
  } catch (err) {
    // A mapping that is invalid or yields no identity is a failed authentication.
    if (err instanceof IdentityError && err.code === 'IDN_ERR_VALIDATION') throw unauthorized(err.message);
    throw err;
  }
  const groupIds = await groupIdsOf(s, mapped, mapping.id);
  if (mapped.user.type === 'local') return { kind: 'local', user: await localUser(s, mapped.user) };
  const [uniqueId, displayName] = uniqueIdAndName(mapped.user, params?.REMOTE_USER);
  const email = typeof mapped.user.email === 'string' ? mapped.user.email : undefined;
  const userId = await s.federation.shadowUser({
    userId: shadowUserId(idp.domain_id, uniqueId),
    domainId: idp.domain_id,
    idpId,
    protocolId,
    uniqueId,
    displayName,
    email,
  });
  const user = (await s.identity.getUser(userId)) as UserRow;
  if (mapped.projects.length > 0) await provisionProjects(s, mapped.projects, idp.domain_id, user.id);
  return { kind: 'ephemeral', user, groupIds, idpId, protocolId };
}

/** The mapping's group ids (each must exist: Keystone's MappedGroupNotFound, a 500), and its groups by name. */
async function groupIdsOf(s: Services, mapped: MappedProperties, mappingId: string): Promise<string[]> {
  const ids: string[] = [];
  for (const id of mapped.group_ids) {
    const group = typeof id === 'string' ? await s.identity.findGroup(id) : null;
    if (!group)
      throw new IdentityError(
        'IDN_ERR_INTERNAL',
        'An unexpected error prevented the server from fulfilling your request.',
        { detail: `Group ${String(id)} returned by mapping ${mappingId} was not found in the backend.` },
      );
    ids.push(group.id);
  }
  for (const g of mapped.group_names as Array<{ name?: unknown; domain?: { id?: string; name?: string } }>) {
    const domain = g.domain ?? {};
    let domainId = domain.id;
    if (!domainId) {
      const found = await s.resource.domain({ name: String(domain.name) });
      if (!found) throw notFound('domain', String(domain.name));
      domainId = found.id;
    }
    const group = await s.identity.groupByName(String(g.name), domainId);
    if (group) ids.push(group.id);
  }
  return [...new Set(ids)];
}

/** Keystone's UserAuthInfo for a mapping whose user is local: by id, or by name in a domain. */
async function localUser(s: Services, user: Record<string, unknown>): Promise<UserRow> {
  let found: UserRow | null = null;
  if (typeof user.id === 'string') found = await s.identity.getUser(user.id);
  else if (typeof user.name === 'string') {
    const domain = (user.domain ?? {}) as { id?: string; name?: string };
    const ref = domain.id ? { id: domain.id } : domain.name ? { name: domain.name } : null;
    if (ref) found = await s.identity.findUser({ name: user.name, domain: ref });
  }
  if (!found) throw unauthorized('the mapped local user was not found');
  return found;
}

/**
 * Keystone's shadow mapping of projects: every role named must exist (404), a domain-specific one
 * only in the provider's domain (403); each project is found by name in the provider's domain or
 * made there, and the user gets the roles on it.
 */
async function provisionProjects(s: Services, projects: unknown[], domainId: string, userId: string) {
  const roles = new Map((await s.assignment.listRoles({})).map((r) => [r.name, r]));
  const wanted = projects as Array<{ name: string; roles: Array<{ name: string }> }>;
  for (const p of wanted)
    for (const r of p.roles) {
      const role = roles.get(r.name);
      if (!role) throw notFound('role', r.name);
      if (role.domain_id !== null && role.domain_id !== domainId) throw forbidden();
    }
  for (const p of wanted) {
    let project = await s.resource.project({ name: p.name, domain: { id: domainId } });
    if (!project) {
      try {
        project = await s.resource.createProject({ name: p.name, domainId, parentId: null }, domainId);
      } catch (err) {
        if (!(err instanceof IdentityError && err.code === 'IDN_ERR_CONFLICT')) throw err;
        project = await s.resource.project({ name: p.name, domain: { id: domainId } });
      }
    }
    for (const r of p.roles)
      await s.assignment.grant({
        actor: { type: 'user', id: userId },
        target: { type: 'project', id: (project as { id: string }).id },
        roleId: (roles.get(r.name) as { id: string }).id,
        inherited: false,
      });
  }
}
