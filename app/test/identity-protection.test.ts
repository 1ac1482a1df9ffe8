/**
 * Protection matrix for the identity and resource APIs: every persona of personas.ts against
 * every action of domains, projects (and tags), users and groups, asserting the exact status,
 * in both configurations: Keystone 22's default (deprecated rules OR-ed in, scope not checked)
 * and secure RBAC (IDENTITY_POLICY_ENFORCE_SCOPE and _NEW_DEFAULTS on). The rules are
 * Keystone's (policy/rules.ts): `admin` on any scope passes admin_required, readers read within
 * their scope, a domain manager (Keystone 26) manages its domain's users, groups and projects,
 * a user reads itself; no token is 401. With scope enforced, actions whose scope types lack
 * `domain` refuse domain tokens (domains themselves, here).
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { build } from '../src/app.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import { createPersonas, expectStatus, type Persona, type Personas, protectionMatrix } from './personas.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'HEAD';
interface Case {
  action: string;
  /** Personas the rule lets through; every other persona with a token gets 403. */
  allowed: Persona[];
  /** Personas it lets through under secure RBAC, when they differ. */
  secure?: Persona[];
  /** Status when allowed. */
  ok: number;
  /** Builds the request for one persona (objects it changes are made fresh for each). */
  request: (persona: Persona) => Promise<{ method: Method; url: string; payload?: unknown }>;
}

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
/** Scope types system and project only: a domain token is refused. */
const SYSTEM_OR_PROJECT_ADMINS: Persona[] = ['system_admin', 'project_admin'];
/** Admins and the manager of the domain the object is in. */
const MANAGERS: Persona[] = [...ADMINS, 'domain_manager'];
const READERS: Persona[] = [...ADMINS, 'system_reader', 'domain_reader', 'domain_manager'];
const PROJECT_USERS: Persona[] = ['project_manager', 'project_member', 'project_reader'];

let t: TestDatabase;
let app: FastifyInstance;
let secureApp: FastifyInstance;
let p: Personas;
let n = 0;
const unique = (what: string) => `${what}-${++n}`;

before(async () => {
  t = await testDatabase();
  p = await createPersonas(t);
  app = await build({ config: t.config, db: t.db });
  secureApp = await build({
    config: { ...t.config, policyEnforceScope: true, policyEnforceNewDefaults: true },
    db: t.db,
  });
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const s = () => app.services;
const freshUser = async () =>
  (
    await s().identity.createUser(
      {
        name: unique('victim'),
        domainId: p.domainId,
        enabled: true,
        defaultProjectId: null,
        description: '',
        options: {},
        extra: {},
      },
      null,
    )
  ).id;
const freshProject = async () =>
  (
    await s().resource.createProject(
      { name: unique('project'), domainId: p.domainId, parentId: null },
      'default',
    )
  ).id;
const freshGroup = async () =>
  (
    await s().identity.createGroup({
      name: unique('group'),
      domainId: p.domainId,
      description: '',
      extra: {},
    })
  ).id;
const freshDomain = async (enabled = true) =>
  (await s().resource.createDomain({ name: unique('domain'), enabled })).id;

let groupId = '';
const cases = (): Case[] => [
  // domains
  {
    action: 'list_domains',
    allowed: [...ADMINS, 'system_reader'],
    secure: [...SYSTEM_OR_PROJECT_ADMINS, 'system_reader'],
    ok: 200,
    request: async () => ({ method: 'GET', url: '/v3/domains' }),
  },
  {
    action: 'get_domain',
    allowed: [...READERS, ...PROJECT_USERS, 'own_user'],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/domains/${p.domainId}` }),
  },
  {
    action: 'create_domain',
    allowed: ADMINS,
    secure: SYSTEM_OR_PROJECT_ADMINS,
    ok: 201,
    request: async () => ({
      method: 'POST',
      url: '/v3/domains',
      payload: { domain: { name: unique('domain') } },
    }),
  },
  {
    action: 'update_domain',
    allowed: ADMINS,
    secure: SYSTEM_OR_PROJECT_ADMINS,
    ok: 200,
    request: async () => ({
      method: 'PATCH',
      url: `/v3/domains/${await freshDomain()}`,
      payload: { domain: { description: 'changed' } },
    }),
  },
  {
    action: 'delete_domain',
    allowed: ADMINS,
    secure: SYSTEM_OR_PROJECT_ADMINS,
    ok: 204,
    request: async () => ({ method: 'DELETE', url: `/v3/domains/${await freshDomain(false)}` }),
  },
  // projects
  {
    action: 'list_projects',
    allowed: READERS,
    ok: 200,
    request: async () => ({ method: 'GET', url: '/v3/projects' }),
  },
  {
    action: 'get_project',
    allowed: [...READERS, ...PROJECT_USERS],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/projects/${p.projectId}` }),
  },
  {
    // Keystone 25.0.0's rule (the admin role reads any project): see laterReleases.
    action: 'get_project (another domain)',
    allowed: [...ADMINS, 'system_reader', 'other_user'],
    secure: [...ADMINS, 'system_reader', 'other_user'],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/projects/${p.otherProjectId}` }),
  },
  {
    action: 'create_project',
    allowed: MANAGERS,
    ok: 201,
    request: async () => ({
      method: 'POST',
      url: '/v3/projects',
      payload: { project: { name: unique('project'), domain_id: p.domainId } },
    }),
  },
  {
    action: 'update_project',
    allowed: MANAGERS,
    ok: 200,
    request: async () => ({
      method: 'PATCH',
      url: `/v3/projects/${await freshProject()}`,
      payload: { project: { description: 'changed' } },
    }),
  },
  {
    action: 'delete_project',
    allowed: MANAGERS,
    ok: 204,
    request: async () => ({ method: 'DELETE', url: `/v3/projects/${await freshProject()}` }),
  },
  {
    action: 'list_project_tags',
    allowed: [...READERS, ...PROJECT_USERS],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/projects/${p.projectId}/tags` }),
  },
  {
    action: 'get_project_tag',
    allowed: [...READERS, ...PROJECT_USERS],
    ok: 204,
    request: async () => {
      await s().resource.addTag(p.projectId, 'present');
      return { method: 'GET', url: `/v3/projects/${p.projectId}/tags/present` };
    },
  },
  {
    action: 'update_project_tags',
    allowed: MANAGERS,
    ok: 200,
    request: async () => ({
      method: 'PUT',
      url: `/v3/projects/${await freshProject()}/tags`,
      payload: { tags: ['a', 'b'] },
    }),
  },
  {
    action: 'create_project_tag',
    allowed: MANAGERS,
    ok: 201,
    request: async () => ({ method: 'PUT', url: `/v3/projects/${await freshProject()}/tags/new` }),
  },
  {
    action: 'delete_project_tag',
    allowed: MANAGERS,
    ok: 204,
    request: async () => {
      const id = await freshProject();
      await s().resource.addTag(id, 'gone');
      return { method: 'DELETE', url: `/v3/projects/${id}/tags/gone` };
    },
  },
  {
    action: 'delete_project_tags',
    allowed: MANAGERS,
    ok: 204,
    request: async () => ({ method: 'DELETE', url: `/v3/projects/${await freshProject()}/tags` }),
  },
  // users
  {
    action: 'list_users',
    allowed: READERS,
    ok: 200,
    request: async () => ({ method: 'GET', url: '/v3/users' }),
  },
  {
    action: 'get_user',
    allowed: [...READERS, 'own_user'],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/users/${p.userIds.own_user}` }),
  },
  {
    action: 'create_user',
    allowed: MANAGERS,
    ok: 201,
    request: async () => ({
      method: 'POST',
      url: '/v3/users',
      payload: { user: { name: unique('user'), domain_id: p.domainId, password: 'secret' } },
    }),
  },
  {
    action: 'update_user',
    allowed: MANAGERS,
    ok: 200,
    request: async () => ({
      method: 'PATCH',
      url: `/v3/users/${await freshUser()}`,
      payload: { user: { password: 'reset by an admin' } },
    }),
  },
  {
    action: 'update_user (own)',
    allowed: MANAGERS,
    ok: 200,
    request: async () => ({
      method: 'PATCH',
      url: `/v3/users/${p.userIds.own_user}`,
      payload: { user: { description: 'only an administrator may' } },
    }),
  },
  {
    action: 'delete_user',
    allowed: MANAGERS,
    ok: 204,
    request: async () => ({ method: 'DELETE', url: `/v3/users/${await freshUser()}` }),
  },
  {
    action: 'list_user_projects',
    allowed: [...READERS, 'own_user'],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/users/${p.userIds.own_user}/projects` }),
  },
  {
    action: 'list_groups_for_user',
    allowed: [...READERS, 'own_user'],
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/users/${p.userIds.own_user}/groups` }),
  },
  // groups
  {
    action: 'list_groups',
    allowed: READERS,
    ok: 200,
    request: async () => ({ method: 'GET', url: '/v3/groups' }),
  },
  {
    action: 'get_group',
    allowed: READERS,
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/groups/${groupId}` }),
  },
  {
    action: 'create_group',
    allowed: MANAGERS,
    ok: 201,
    request: async () => ({
      method: 'POST',
      url: '/v3/groups',
      payload: { group: { name: unique('group'), domain_id: p.domainId } },
    }),
  },
  {
    action: 'update_group',
    allowed: MANAGERS,
    ok: 200,
    request: async () => ({
      method: 'PATCH',
      url: `/v3/groups/${await freshGroup()}`,
      payload: { group: { description: 'changed' } },
    }),
  },
  {
    action: 'delete_group',
    allowed: MANAGERS,
    ok: 204,
    request: async () => ({ method: 'DELETE', url: `/v3/groups/${await freshGroup()}` }),
  },
  {
    action: 'list_users_in_group',
    allowed: READERS,
    ok: 200,
    request: async () => ({ method: 'GET', url: `/v3/groups/${groupId}/users` }),
  },
  {
    action: 'check_user_in_group',
    allowed: READERS,
    ok: 204,
    request: async () => ({ method: 'HEAD', url: `/v3/groups/${groupId}/users/${p.userIds.own_user}` }),
  },
  {
    action: 'add_user_to_group',
    allowed: MANAGERS,
    ok: 204,
    request: async () => ({
      method: 'PUT',
      url: `/v3/groups/${await freshGroup()}/users/${await freshUser()}`,
    }),
  },
  {
    action: 'remove_user_from_group',
    allowed: MANAGERS,
    ok: 204,
    request: async () => {
      const [g, u] = [await freshGroup(), await freshUser()];
      await s().identity.addMember(g, u);
      return { method: 'DELETE', url: `/v3/groups/${g}/users/${u}` };
    },
  },
];

describe('protection matrix: identity and resource APIs', () => {
  before(async () => {
    groupId = await freshGroup();
    await s().identity.addMember(groupId, p.userIds.own_user);
  });
  protectionMatrix(
    'action',
    () =>
      cases().map((c) => ({
        action: c.action,
        expected: expectStatus(c.allowed, c.ok),
        ...(c.secure ? { secure: expectStatus(c.secure, c.ok) } : {}),
        request: c.request,
      })),
    async (secure, persona, req) => {
      const options: InjectOptions = {
        method: req.method as Method,
        url: req.url,
        headers: p.headers(persona),
      };
      if (req.payload !== undefined) options.payload = req.payload as Record<string, unknown>;
      const res = await (secure ? secureApp : app).inject(options);
      if (res.statusCode >= 400 && req.method !== 'HEAD') {
        const body = res.json();
        assert.equal(body.error.code, res.statusCode, `${persona}: Keystone's error body`);
      }
      return res.statusCode;
    },
    { perAction: 'identity:' },
  );
});
