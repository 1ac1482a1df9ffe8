/**
 * The protection matrix for roles, implied roles, grants, role assignments, the catalog,
 * credentials and application credentials: every persona of personas.ts against every action,
 * asserting the exact status Keystone's default policies give, in both configurations: Keystone
 * 22's default and secure RBAC (IDENTITY_POLICY_ENFORCE_SCOPE and _NEW_DEFAULTS on), where
 * actions whose scope types are system and project refuse domain tokens. Writes act on a fresh
 * resource per persona, so each cell is independent of the others.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client, type Json } from './api.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import {
  createPersonas,
  expectStatus,
  PERSONAS,
  type Persona,
  type Personas,
  type ProtectionCase,
  protectionMatrix,
} from './personas.js';

let t: TestDatabase;
let app: FastifyInstance;
let secureApp: FastifyInstance;
let p: Personas;
let api: ReturnType<typeof client>;
let secureApi: ReturnType<typeof client>;
let subject: string;
const ok: typeof api.ok = (...a) => api.ok(...a);

before(async () => {
  t = await testDatabase();
  p = await createPersonas(t);
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => p.tokens.system_admin);
  secureApp = await build({
    config: { ...t.config, policyEnforceScope: true, policyEnforceNewDefaults: true },
    db: t.db,
  });
  secureApi = client(secureApp, () => p.tokens.system_admin);
  // Grants are made to and taken from this user, whose tokens no persona needs.
  subject = (await ok('POST', '/v3/users', { user: { name: 'grant-subject', domain_id: p.domainId } }, 201))
    .user.id;
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
const SYSTEM_READERS: Persona[] = ['system_admin', 'system_reader'];
const ADMIN_OR_SYSTEM_READER: Persona[] = [...ADMINS, 'system_reader'];
/** Under secure RBAC, actions scoped to system and project: a domain token is refused. */
const SP_ADMINS: Persona[] = ['system_admin', 'project_admin'];
const SP_ADMIN_OR_SYSTEM_READER: Persona[] = [...SP_ADMINS, 'system_reader'];
/** The grant readers of Keystone's grant.py: the domain reader (and so manager) of the domain. */
const GRANT_READERS: Persona[] = [...ADMIN_OR_SYSTEM_READER, 'domain_reader', 'domain_manager'];
const WITH_TOKEN: Persona[] = PERSONAS.filter((x) => x !== 'no_token');

let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;
const freshRole = async () =>
  (await ok('POST', '/v3/roles', { role: { name: unique('role') } }, 201)).role.id;
const member = () => p.roles.member as string;
const grantPath = () => `/v3/projects/${p.projectId}/users/${subject}/roles/${member()}`;
const freshUser = async () =>
  (await ok('POST', '/v3/users', { user: { name: unique('grantee'), domain_id: p.domainId } }, 201)).user.id;
const ownCredential = async () =>
  (
    await ok(
      'POST',
      '/v3/credentials',
      { credential: { user_id: p.userIds.own_user, type: 'totp', blob: unique('blob') } },
      201,
    )
  ).credential.id;
const ownAppCredential = async () => {
  const res = await api.call(
    'POST',
    `/v3/users/${p.userIds.own_user}/application_credentials`,
    { application_credential: { name: unique('ac') } },
    p.tokens.own_user,
  );
  assert.equal(res.status, 201);
  return res.body.application_credential.id as string;
};

const rows: ProtectionCase[] = [
  {
    action: 'list_roles',
    expected: expectStatus([...ADMIN_OR_SYSTEM_READER, 'domain_manager'], 200),
    request: async () => ({ method: 'GET', url: '/v3/roles' }),
  },
  {
    action: 'get_role',
    expected: expectStatus([...ADMIN_OR_SYSTEM_READER, 'domain_manager', 'project_manager'], 200),
    request: async () => ({ method: 'GET', url: `/v3/roles/${member()}` }),
  },
  {
    action: 'create_role',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => ({
      method: 'POST',
      url: '/v3/roles',
      payload: { role: { name: unique('new-role') } },
    }),
  },
  {
    action: 'update_role',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(SP_ADMINS, 200),
    request: async () => ({
      method: 'PATCH',
      url: `/v3/roles/${await freshRole()}`,
      payload: { role: { description: 'x' } },
    }),
  },
  {
    action: 'delete_role',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => ({ method: 'DELETE', url: `/v3/roles/${await freshRole()}` }),
  },
  {
    action: 'create_implied_role',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => ({
      method: 'PUT',
      url: `/v3/roles/${await freshRole()}/implies/${await freshRole()}`,
    }),
  },
  {
    action: 'list_role_inference_rules',
    expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
    secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
    request: async () => ({ method: 'GET', url: '/v3/role_inferences' }),
  },
  {
    action: 'create_grant',
    expected: expectStatus(ADMINS, 204),
    request: async () => ({
      method: 'PUT',
      url: `/v3/projects/${p.projectId}/users/${subject}/roles/${await freshRole()}`,
    }),
  },
  {
    // Keystone 26: a domain manager grants manager, member or reader within its domain.
    action: 'create_grant (member role)',
    expected: expectStatus([...ADMINS, 'domain_manager'], 204),
    request: async () => ({
      method: 'PUT',
      url: `/v3/projects/${p.projectId}/users/${await freshUser()}/roles/${member()}`,
    }),
  },
  {
    action: 'check_grant',
    expected: expectStatus(GRANT_READERS, 204),
    request: async () => {
      await ok('PUT', grantPath(), undefined, 204);
      return { method: 'HEAD', url: grantPath() };
    },
  },
  {
    action: 'list_grants',
    expected: expectStatus(GRANT_READERS, 200),
    request: async () => ({
      method: 'GET',
      url: `/v3/projects/${p.projectId}/users/${subject}/roles`,
    }),
  },
  {
    action: 'revoke_grant',
    expected: expectStatus(ADMINS, 204),
    request: async () => {
      const role = await freshRole();
      const path = `/v3/domains/${p.domainId}/users/${subject}/roles/${role}`;
      await ok('PUT', path, undefined, 204);
      return { method: 'DELETE', url: path };
    },
  },
  {
    action: 'create_system_grant_for_user',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => ({
      method: 'PUT',
      url: `/v3/system/users/${subject}/roles/${await freshRole()}`,
    }),
  },
  {
    action: 'list_system_grants_for_user',
    expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
    secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
    request: async () => ({ method: 'GET', url: `/v3/system/users/${subject}/roles` }),
  },
  {
    action: 'list_role_assignments',
    expected: expectStatus(GRANT_READERS, 200),
    request: async () => ({ method: 'GET', url: '/v3/role_assignments' }),
  },
  {
    action: 'list_services',
    expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
    secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
    request: async () => ({ method: 'GET', url: '/v3/services' }),
  },
  {
    action: 'create_service',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => ({
      method: 'POST',
      url: '/v3/services',
      payload: { service: { type: unique('type') } },
    }),
  },
  {
    action: 'list_endpoints',
    expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
    secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
    request: async () => ({ method: 'GET', url: '/v3/endpoints' }),
  },
  {
    action: 'delete_endpoint',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => {
      const service = (await ok('POST', '/v3/services', { service: { type: unique('svc') } }, 201)).service
        .id;
      const endpoint = (
        await ok(
          'POST',
          '/v3/endpoints',
          { endpoint: { interface: 'public', url: 'http://e.test/', service_id: service } },
          201,
        )
      ).endpoint.id;
      return { method: 'DELETE', url: `/v3/endpoints/${endpoint}` };
    },
  },
  {
    action: 'list_regions',
    expected: expectStatus(WITH_TOKEN, 200),
    request: async () => ({ method: 'GET', url: '/v3/regions' }),
  },
  {
    action: 'create_region',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => ({
      method: 'POST',
      url: '/v3/regions',
      payload: { region: { id: unique('region') } },
    }),
  },
  {
    action: 'create_credential (for own_user)',
    expected: expectStatus([...ADMINS, 'own_user'], 201),
    secure: expectStatus([...SP_ADMINS, 'own_user'], 201),
    request: async () => ({
      method: 'POST',
      url: '/v3/credentials',
      payload: { credential: { user_id: p.userIds.own_user, type: 'totp', blob: unique('b') } },
    }),
  },
  {
    action: 'get_credential (own_user’s)',
    expected: expectStatus([...ADMIN_OR_SYSTEM_READER, 'own_user'], 200),
    secure: expectStatus([...SP_ADMIN_OR_SYSTEM_READER, 'own_user'], 200),
    request: async () => ({ method: 'GET', url: `/v3/credentials/${await ownCredential()}` }),
  },
  {
    action: 'delete_credential (own_user’s)',
    expected: expectStatus([...ADMINS, 'own_user'], 204),
    secure: expectStatus([...SP_ADMINS, 'own_user'], 204),
    request: async () => ({ method: 'DELETE', url: `/v3/credentials/${await ownCredential()}` }),
  },
  {
    action: 'create_application_credential (own_user’s)',
    expected: expectStatus(['own_user'], 201),
    request: async () => ({
      method: 'POST',
      url: `/v3/users/${p.userIds.own_user}/application_credentials`,
      payload: { application_credential: { name: unique('app') } },
    }),
  },
  {
    action: 'list_application_credentials (own_user’s)',
    expected: expectStatus([...ADMIN_OR_SYSTEM_READER, 'own_user'], 200),
    secure: expectStatus([...SP_ADMIN_OR_SYSTEM_READER, 'own_user'], 200),
    request: async () => ({ method: 'GET', url: `/v3/users/${p.userIds.own_user}/application_credentials` }),
  },
  {
    // Keystone 22's access rule policies have no admin_required: system readers and the owner.
    action: 'list_access_rules (own_user’s)',
    expected: expectStatus([...SYSTEM_READERS, 'own_user'], 200),
    request: async () => ({ method: 'GET', url: `/v3/users/${p.userIds.own_user}/access_rules` }),
  },
  {
    action: 'delete_application_credential (own_user’s)',
    expected: expectStatus([...ADMINS, 'own_user'], 204),
    secure: expectStatus([...SP_ADMINS, 'own_user'], 204),
    request: async () => ({
      method: 'DELETE',
      url: `/v3/users/${p.userIds.own_user}/application_credentials/${await ownAppCredential()}`,
    }),
  },
];

protectionMatrix(
  'action',
  () => rows,
  async (secure, persona, r) =>
    (await (secure ? secureApi : api).call(r.method, r.url, r.payload, p.tokens[persona])).status,
);

test('what a reader may see is filtered to what it may see', async () => {
  // A credential list shows the caller's own only; the system reader sees them all.
  await ownCredential();
  const own = await api.call('GET', '/v3/credentials', undefined, p.tokens.own_user);
  assert.ok(own.body.credentials.length > 0);
  assert.ok(own.body.credentials.every((c: Json) => c.user_id === p.userIds.own_user));
  const other = await api.call('GET', '/v3/credentials', undefined, p.tokens.other_user);
  assert.deepEqual(other.body.credentials, []);
  // A domain reader's role assignments stay within its domain; another domain's are an empty list.
  const elsewhere = await api.call(
    'GET',
    '/v3/role_assignments?scope.domain.id=default',
    undefined,
    p.tokens.domain_reader,
  );
  assert.equal(elsewhere.status, 200);
  assert.deepEqual(elsewhere.body.role_assignments, []);
  const domain = await api.call('GET', '/v3/role_assignments', undefined, p.tokens.domain_reader);
  assert.ok(domain.body.role_assignments.length > 0);
  for (const a of domain.body.role_assignments as Json[])
    assert.ok(
      a.scope.domain?.id === p.domainId || [p.projectId, p.ownProjectId].includes(a.scope.project?.id),
      JSON.stringify(a),
    );
});
