/**
 * Secure RBAC side by side with the real Keystone 22 (shared/tools/keystone-reference started
 * with KS_ENFORCE_SCOPE=true: enforce_scope and enforce_new_defaults on). The same personas are
 * made through the API on both services, every persona makes the same requests, and the
 * statuses must be equal except for the differences listed below, each with the Keystone
 * release whose rule Gatehouse follows instead.
 *
 *   KEYSTONE_URL=http://127.0.0.1:35357 KEYSTONE_ADMIN_PASSWORD=anchor-admin-pw \
 *   KEYSTONE_SECURE_RBAC=true node --test app/dist/test/keystone-policy-compat.test.js
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import type { Json } from './api.js';
import { ADMIN_PASSWORD, type TestDatabase, testDatabase } from './helpers.js';

const url = process.env.KEYSTONE_URL?.replace(/\/+$/, '');
const password = process.env.KEYSTONE_ADMIN_PASSWORD;
const skip =
  url && password && process.env.KEYSTONE_SECURE_RBAC === 'true'
    ? false
    : 'KEYSTONE_URL, KEYSTONE_ADMIN_PASSWORD and KEYSTONE_SECURE_RBAC=true are not all set';

const PERSONAS = [
  'system_admin',
  'system_reader',
  'domain_admin',
  'domain_manager',
  'domain_reader',
  'project_admin',
  'project_manager',
  'project_member',
  'project_reader',
  'own_user',
  'other_user',
] as const;
type Persona = (typeof PERSONAS)[number];

/**
 * Where Gatehouse's secure RBAC answers differently from Keystone 22, and whose rule it follows.
 * Keystone 22 has no manager role: its manager personas hold a role named manager that no rule
 * mentions (and that implies member, as Keystone 26's bootstrap makes it).
 */
const DIFFERENCES: Record<string, string> = {
  // Keystone 26.0.0 (2024.2), "Implement the Domain Manager Persona": a domain manager manages
  // the users, groups and projects of its domain, grants manager, member and reader in it, and
  // reads roles (list_roles and get_role gain the domain scope type, so a domain admin reads them too).
  'create_user as domain_manager': '201 403',
  'update_user as domain_manager': '200 403',
  'delete_user as domain_manager': '204 403',
  'create_group as domain_manager': '201 403',
  'update_group as domain_manager': '200 403',
  'delete_group as domain_manager': '204 403',
  'add_user_to_group as domain_manager': '204 403',
  'remove_user_from_group as domain_manager': '204 403',
  'create_project as domain_manager': '201 403',
  'update_project as domain_manager': '200 403',
  'delete_project as domain_manager': '204 403',
  'create_project_tag as domain_manager': '201 403',
  'delete_project_tag as domain_manager': '204 403',
  'create_grant (member) as domain_manager': '204 403',
  'revoke_grant (member) as domain_manager': '204 403',
  'list_roles as domain_admin': '200 403',
  'list_roles as domain_manager': '200 403',
  'get_role as domain_admin': '200 403',
  'get_role as domain_manager': '200 403',
  // Keystone 26.0.0: get_role lets any manager read the roles a domain manager may assign.
  'get_role as project_manager': '200 403',
};

interface Reply {
  status: number;
  body: Json;
  token: string | null;
}
type Call = (
  method: string,
  path: string,
  body?: unknown,
  token?: string | null,
  headers?: Record<string, string>,
) => Promise<Reply>;

const keystone: Call = async (method, path, body, token, headers = {}) => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { 'x-auth-token': token } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : null,
    token: res.headers.get('x-subject-token'),
  };
};

function gatehouse(app: FastifyInstance): Call {
  return async (method, path, body, token, headers = {}) => {
    const res = await app.inject({
      method: method as 'GET',
      url: path,
      headers: { ...(token ? { 'x-auth-token': token } : {}), ...headers },
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    });
    return {
      status: res.statusCode,
      body: res.body ? res.json() : null,
      token: (res.headers['x-subject-token'] as string | undefined) ?? null,
    };
  };
}

/** One service's world: ids and persona tokens, made through its API. */
interface World {
  call: Call;
  admin: string;
  domainId: string;
  projectId: string;
  ownProjectId: string;
  groupId: string;
  roles: Record<string, string>;
  userIds: Record<Persona, string>;
  tokens: Record<Persona, string>;
}

const tag = randomUUID().slice(0, 8);

async function world(call: Call, adminPassword: string): Promise<World> {
  const auth = async (user: Json, scope: unknown) => {
    const res = await call('POST', '/v3/auth/tokens?nocatalog', {
      auth: { identity: { methods: ['password'], password: { user } }, scope },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.token as string;
  };
  const admin = await auth(
    { name: 'admin', domain: { id: 'default' }, password: adminPassword },
    { system: { all: true } },
  );
  const ok = async (method: string, path: string, body?: unknown, status = 201): Promise<Json> => {
    const res = await call(method, path, body, admin);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const domainId = (await ok('POST', '/v3/domains', { domain: { name: `pc-domain-${tag}` } })).domain.id;
  const otherDomainId = (await ok('POST', '/v3/domains', { domain: { name: `pc-other-${tag}` } })).domain.id;
  const project = async (name: string, domain: string) =>
    (await ok('POST', '/v3/projects', { project: { name: `${name}-${tag}`, domain_id: domain } })).project.id;
  const projectId = await project('pc-project', domainId);
  const ownProjectId = await project('pc-own', domainId);
  const otherProjectId = await project('pc-other', otherDomainId);
  const roles: Record<string, string> = {};
  for (const r of (await ok('GET', '/v3/roles', undefined, 200)).roles) roles[r.name] = r.id;
  if (!roles.manager) {
    // Keystone 22's bootstrap has no manager role; Keystone 26's makes it imply member.
    roles.manager = (await ok('POST', '/v3/roles', { role: { name: 'manager' } })).role.id;
    await ok('PUT', `/v3/roles/${roles.manager}/implies/${roles.member}`);
  }
  const plan: Array<[Persona, string, string, string]> = [
    ['system_reader', domainId, 'reader', '/v3/system'],
    ['domain_admin', domainId, 'admin', `/v3/domains/${domainId}`],
    ['domain_manager', domainId, 'manager', `/v3/domains/${domainId}`],
    ['domain_reader', domainId, 'reader', `/v3/domains/${domainId}`],
    ['project_admin', domainId, 'admin', `/v3/projects/${projectId}`],
    ['project_manager', domainId, 'manager', `/v3/projects/${projectId}`],
    ['project_member', domainId, 'member', `/v3/projects/${projectId}`],
    ['project_reader', domainId, 'reader', `/v3/projects/${projectId}`],
    ['own_user', domainId, 'member', `/v3/projects/${ownProjectId}`],
    ['other_user', otherDomainId, 'member', `/v3/projects/${otherProjectId}`],
  ];
  const userIds = {
    system_admin: (await call('GET', '/v3/auth/tokens', undefined, admin, { 'x-subject-token': admin })).body
      .token.user.id,
  } as Record<Persona, string>;
  const tokens = { system_admin: admin } as Record<Persona, string>;
  const pw = 'persona password 1';
  for (const [persona, domain, role, target] of plan) {
    const id = (
      await ok('POST', '/v3/users', { user: { name: `${persona}-${tag}`, domain_id: domain, password: pw } })
    ).user.id;
    await ok('PUT', `${target}/users/${id}/roles/${roles[role]}`, undefined, 204);
    userIds[persona] = id;
    const scope =
      target === '/v3/system'
        ? { system: { all: true } }
        : target.startsWith('/v3/domains/')
          ? { domain: { id: domain } }
          : { project: { id: target.split('/')[3] } };
    tokens[persona] = await auth({ id, password: pw }, scope);
  }
  const groupId = (
    await ok('POST', '/v3/groups', { group: { name: `pc-group-${tag}`, domain_id: domainId } })
  ).group.id;
  await ok('PUT', `/v3/groups/${groupId}/users/${userIds.own_user}`, undefined, 204);
  return { call, admin, domainId, projectId, ownProjectId, groupId, roles, userIds, tokens };
}

let n = 0;
const unique = (what: string) => `${what}-${tag}-${++n}`;

/** A request for one persona, with whatever fresh object it acts on made first by the admin. */
type Case = [
  string,
  (
    w: World,
    persona: Persona,
  ) => Promise<{ method: string; path: string; body?: unknown; headers?: Record<string, string> }>,
];

const made = async (w: World, path: string, body: unknown, key: string): Promise<string> => {
  const res = await w.call('POST', path, body, w.admin);
  assert.equal(res.status, 201, `${path}: ${JSON.stringify(res.body)}`);
  return res.body[key].id;
};
const freshUser = (w: World) =>
  made(w, '/v3/users', { user: { name: unique('u'), domain_id: w.domainId } }, 'user');
const freshGroup = (w: World) =>
  made(w, '/v3/groups', { group: { name: unique('g'), domain_id: w.domainId } }, 'group');
const freshProject = (w: World) =>
  made(w, '/v3/projects', { project: { name: unique('p'), domain_id: w.domainId } }, 'project');
const freshRole = (w: World) => made(w, '/v3/roles', { role: { name: unique('r') } }, 'role');
const freshDomain = async (w: World, enabled = true) =>
  made(w, '/v3/domains', { domain: { name: unique('d'), enabled } }, 'domain');
const asAdmin = async (w: World, method: string, path: string, body?: unknown) => {
  const res = await w.call(method, path, body, w.admin);
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
};

const cases: Case[] = [
  ['list_domains', async () => ({ method: 'GET', path: '/v3/domains' })],
  ['get_domain', async (w) => ({ method: 'GET', path: `/v3/domains/${w.domainId}` })],
  [
    'create_domain',
    async () => ({ method: 'POST', path: '/v3/domains', body: { domain: { name: unique('nd') } } }),
  ],
  [
    'update_domain',
    async (w) => ({
      method: 'PATCH',
      path: `/v3/domains/${await freshDomain(w)}`,
      body: { domain: { description: 'x' } },
    }),
  ],
  ['delete_domain', async (w) => ({ method: 'DELETE', path: `/v3/domains/${await freshDomain(w, false)}` })],
  ['list_projects', async () => ({ method: 'GET', path: '/v3/projects' })],
  ['get_project', async (w) => ({ method: 'GET', path: `/v3/projects/${w.projectId}` })],
  [
    'create_project',
    async (w) => ({
      method: 'POST',
      path: '/v3/projects',
      body: { project: { name: unique('np'), domain_id: w.domainId } },
    }),
  ],
  [
    'update_project',
    async (w) => ({
      method: 'PATCH',
      path: `/v3/projects/${await freshProject(w)}`,
      body: { project: { description: 'x' } },
    }),
  ],
  ['delete_project', async (w) => ({ method: 'DELETE', path: `/v3/projects/${await freshProject(w)}` })],
  ['list_project_tags', async (w) => ({ method: 'GET', path: `/v3/projects/${w.projectId}/tags` })],
  [
    'create_project_tag',
    async (w) => ({ method: 'PUT', path: `/v3/projects/${await freshProject(w)}/tags/t1` }),
  ],
  [
    'delete_project_tag',
    async (w) => {
      const id = await freshProject(w);
      await asAdmin(w, 'PUT', `/v3/projects/${id}/tags/t1`);
      return { method: 'DELETE', path: `/v3/projects/${id}/tags/t1` };
    },
  ],
  ['list_users', async () => ({ method: 'GET', path: '/v3/users' })],
  ['get_user', async (w) => ({ method: 'GET', path: `/v3/users/${w.userIds.own_user}` })],
  [
    'create_user',
    async (w) => ({
      method: 'POST',
      path: '/v3/users',
      body: { user: { name: unique('nu'), domain_id: w.domainId } },
    }),
  ],
  [
    'update_user',
    async (w) => ({
      method: 'PATCH',
      path: `/v3/users/${await freshUser(w)}`,
      body: { user: { description: 'x' } },
    }),
  ],
  ['delete_user', async (w) => ({ method: 'DELETE', path: `/v3/users/${await freshUser(w)}` })],
  ['list_user_projects', async (w) => ({ method: 'GET', path: `/v3/users/${w.userIds.own_user}/projects` })],
  ['list_groups_for_user', async (w) => ({ method: 'GET', path: `/v3/users/${w.userIds.own_user}/groups` })],
  ['list_groups', async () => ({ method: 'GET', path: '/v3/groups' })],
  ['get_group', async (w) => ({ method: 'GET', path: `/v3/groups/${w.groupId}` })],
  [
    'create_group',
    async (w) => ({
      method: 'POST',
      path: '/v3/groups',
      body: { group: { name: unique('ng'), domain_id: w.domainId } },
    }),
  ],
  [
    'update_group',
    async (w) => ({
      method: 'PATCH',
      path: `/v3/groups/${await freshGroup(w)}`,
      body: { group: { description: 'x' } },
    }),
  ],
  ['delete_group', async (w) => ({ method: 'DELETE', path: `/v3/groups/${await freshGroup(w)}` })],
  ['list_users_in_group', async (w) => ({ method: 'GET', path: `/v3/groups/${w.groupId}/users` })],
  [
    'check_user_in_group',
    async (w) => ({ method: 'HEAD', path: `/v3/groups/${w.groupId}/users/${w.userIds.own_user}` }),
  ],
  [
    'add_user_to_group',
    async (w) => ({ method: 'PUT', path: `/v3/groups/${await freshGroup(w)}/users/${await freshUser(w)}` }),
  ],
  [
    'remove_user_from_group',
    async (w) => {
      const [g, u] = [await freshGroup(w), await freshUser(w)];
      await asAdmin(w, 'PUT', `/v3/groups/${g}/users/${u}`);
      return { method: 'DELETE', path: `/v3/groups/${g}/users/${u}` };
    },
  ],
  ['list_roles', async () => ({ method: 'GET', path: '/v3/roles' })],
  ['get_role', async (w) => ({ method: 'GET', path: `/v3/roles/${w.roles.member}` })],
  [
    'create_role',
    async () => ({ method: 'POST', path: '/v3/roles', body: { role: { name: unique('nr') } } }),
  ],
  [
    'update_role',
    async (w) => ({
      method: 'PATCH',
      path: `/v3/roles/${await freshRole(w)}`,
      body: { role: { description: 'x' } },
    }),
  ],
  ['delete_role', async (w) => ({ method: 'DELETE', path: `/v3/roles/${await freshRole(w)}` })],
  [
    'create_implied_role',
    async (w) => ({ method: 'PUT', path: `/v3/roles/${await freshRole(w)}/implies/${await freshRole(w)}` }),
  ],
  ['list_role_inference_rules', async () => ({ method: 'GET', path: '/v3/role_inferences' })],
  [
    'create_grant (member)',
    async (w) => ({
      method: 'PUT',
      path: `/v3/projects/${w.projectId}/users/${await freshUser(w)}/roles/${w.roles.member}`,
    }),
  ],
  [
    'create_grant (admin)',
    async (w) => ({
      method: 'PUT',
      path: `/v3/projects/${w.projectId}/users/${await freshUser(w)}/roles/${w.roles.admin}`,
    }),
  ],
  [
    'check_grant',
    async (w) => ({
      method: 'HEAD',
      path: `/v3/projects/${w.projectId}/users/${w.userIds.project_member}/roles/${w.roles.member}`,
    }),
  ],
  [
    'list_grants',
    async (w) => ({
      method: 'GET',
      path: `/v3/projects/${w.projectId}/users/${w.userIds.project_member}/roles`,
    }),
  ],
  [
    'revoke_grant (member)',
    async (w) => {
      const path = `/v3/domains/${w.domainId}/users/${await freshUser(w)}/roles/${w.roles.member}`;
      await asAdmin(w, 'PUT', path);
      return { method: 'DELETE', path };
    },
  ],
  [
    'list_system_grants_for_user',
    async (w) => ({ method: 'GET', path: `/v3/system/users/${w.userIds.system_reader}/roles` }),
  ],
  [
    'create_system_grant_for_user',
    async (w) => ({ method: 'PUT', path: `/v3/system/users/${await freshUser(w)}/roles/${w.roles.reader}` }),
  ],
  ['list_role_assignments', async () => ({ method: 'GET', path: '/v3/role_assignments' })],
  ['list_services', async () => ({ method: 'GET', path: '/v3/services' })],
  [
    'create_service',
    async () => ({ method: 'POST', path: '/v3/services', body: { service: { type: unique('st') } } }),
  ],
  ['list_endpoints', async () => ({ method: 'GET', path: '/v3/endpoints' })],
  ['list_regions', async () => ({ method: 'GET', path: '/v3/regions' })],
  [
    'create_region',
    async () => ({ method: 'POST', path: '/v3/regions', body: { region: { id: unique('rg') } } }),
  ],
  [
    'create_credential (own_user)',
    async (w) => ({
      method: 'POST',
      path: '/v3/credentials',
      body: { credential: { user_id: w.userIds.own_user, type: 'totp', blob: unique('b') } },
    }),
  ],
  [
    'get_credential (own_user)',
    async (w) => {
      const id = await made(
        w,
        '/v3/credentials',
        { credential: { user_id: w.userIds.own_user, type: 'totp', blob: unique('b') } },
        'credential',
      );
      return { method: 'GET', path: `/v3/credentials/${id}` };
    },
  ],
  [
    'list_application_credentials (own_user)',
    async (w) => ({ method: 'GET', path: `/v3/users/${w.userIds.own_user}/application_credentials` }),
  ],
  [
    'list_access_rules (own_user)',
    async (w) => ({ method: 'GET', path: `/v3/users/${w.userIds.own_user}/access_rules` }),
  ],
  [
    'validate_token (own_user)',
    async (w) => ({
      method: 'GET',
      path: '/v3/auth/tokens',
      headers: { 'x-subject-token': w.tokens.own_user },
    }),
  ],
  ['get_auth_projects', async () => ({ method: 'GET', path: '/v3/auth/projects' })],
];

let t: TestDatabase;
let app: FastifyInstance;
let ours: World;
let theirs: World;

before(async () => {
  if (skip) return;
  t = await testDatabase();
  app = await build({
    config: { ...t.config, policyEnforceScope: true, policyEnforceNewDefaults: true },
    db: t.db,
  });
  ours = await world(gatehouse(app), ADMIN_PASSWORD);
  theirs = await world(keystone, password as string);
});
after(async () => {
  if (skip) return;
  await app.close();
  await t.drop();
});

test('secure RBAC: the statuses of Keystone 22, but for the listed later-release rules', {
  skip,
}, async () => {
  const differences: Record<string, string> = {};
  const table: string[] = [];
  for (const [action, request] of cases)
    for (const persona of PERSONAS) {
      const statuses: number[] = [];
      for (const w of [ours, theirs]) {
        const r = await request(w, persona);
        statuses.push((await w.call(r.method, r.path, r.body, w.tokens[persona], r.headers)).status);
      }
      table.push(`${action} as ${persona}: ${statuses.join(' ')}`);
      if (statuses[0] !== statuses[1]) differences[`${action} as ${persona}`] = statuses.join(' ');
    }
  if (process.env.KEYSTONE_POLICY_TABLE) process.stdout.write(`${table.join('\n')}\n`);
  assert.deepEqual(differences, DIFFERENCES);
});
