/**
 * The protection matrix for OS-FEDERATION (identity providers, protocols, mappings, service
 * providers): every persona of personas.ts against every action, the exact status Keystone 22's
 * default policies give (admin, or a system reader for reads), in both configurations: Keystone
 * 22's defaults, and secure RBAC, whose system and project scope types refuse domain tokens.
 * Writes act on a fresh object per persona, so each cell is independent of the others.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client } from './api.js';
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
const ok: typeof api.ok = (...a) => api.ok(...a);
const F = '/v3/OS-FEDERATION';
const rules = [{ local: [{ user: { name: '{0}' } }], remote: [{ type: 'REMOTE_USER' }] }];

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
  await ok('PUT', `${F}/mappings/shared`, { mapping: { rules } }, 201);
  await ok('PUT', `${F}/identity_providers/shared`, { identity_provider: { domain_id: p.domainId } }, 201);
  await ok(
    'PUT',
    `${F}/identity_providers/shared/protocols/saml2`,
    { protocol: { mapping_id: 'shared' } },
    201,
  );
  await ok('PUT', `${F}/identity_providers/open`, { identity_provider: { enabled: true } }, 201);
  await ok(
    'PUT',
    `${F}/identity_providers/open/protocols/mapped`,
    { protocol: { mapping_id: 'shared' } },
    201,
  );
  await ok(
    'PUT',
    `${F}/service_providers/shared`,
    { service_provider: { auth_url: 'https://sp.test/v3', sp_url: 'https://sp.test/ecp' } },
    201,
  );
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
const ADMIN_OR_SYSTEM_READER: Persona[] = [...ADMINS, 'system_reader'];
/** Under secure RBAC, actions scoped to system and project: a domain token is refused. */
const SP_ADMINS: Persona[] = ['system_admin', 'project_admin'];
const SP_ADMIN_OR_SYSTEM_READER: Persona[] = [...SP_ADMINS, 'system_reader'];

let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;
const freshIdp = async () => {
  const id = unique('idp');
  await ok('PUT', `${F}/identity_providers/${id}`, { identity_provider: { domain_id: p.domainId } }, 201);
  return id;
};
const freshMapping = async () => {
  const id = unique('mapping');
  await ok('PUT', `${F}/mappings/${id}`, { mapping: { rules } }, 201);
  return id;
};
const freshSp = async () => {
  const id = unique('sp');
  await ok(
    'PUT',
    `${F}/service_providers/${id}`,
    { service_provider: { auth_url: 'https://sp.test/v3', sp_url: 'https://sp.test/ecp' } },
    201,
  );
  return id;
};
const freshProtocol = async () => {
  const id = unique('proto');
  await ok(
    'PUT',
    `${F}/identity_providers/shared/protocols/${id}`,
    { protocol: { mapping_id: 'shared' } },
    201,
  );
  return id;
};

const read = {
  expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
  secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
};
const anyToken = {
  expected: expectStatus(
    [...PERSONAS].filter((x) => x !== 'no_token'),
    200,
  ),
  secure: expectStatus(
    [...PERSONAS].filter((x) => x !== 'no_token'),
    200,
  ),
};
const everyone = (status: number) =>
  Object.fromEntries(PERSONAS.map((x) => [x, status])) as Record<Persona, number>;
const write = (status: number) => ({
  expected: expectStatus(ADMINS, status),
  secure: expectStatus(SP_ADMINS, status),
});

const rows: ProtectionCase[] = [
  {
    action: 'create_identity_provider',
    ...write(201),
    request: async () => ({
      method: 'PUT',
      url: `${F}/identity_providers/${unique('idp')}`,
      payload: { identity_provider: { domain_id: p.domainId } },
    }),
  },
  {
    action: 'list_identity_providers',
    ...read,
    request: async () => ({ method: 'GET', url: `${F}/identity_providers` }),
  },
  {
    action: 'get_identity_provider',
    ...read,
    request: async () => ({ method: 'GET', url: `${F}/identity_providers/shared` }),
  },
  {
    action: 'update_identity_provider',
    ...write(200),
    request: async () => ({
      method: 'PATCH',
      url: `${F}/identity_providers/${await freshIdp()}`,
      payload: { identity_provider: { enabled: true } },
    }),
  },
  {
    action: 'delete_identity_provider',
    ...write(204),
    request: async () => ({ method: 'DELETE', url: `${F}/identity_providers/${await freshIdp()}` }),
  },
  {
    action: 'create_protocol',
    ...write(201),
    request: async () => ({
      method: 'PUT',
      url: `${F}/identity_providers/shared/protocols/${unique('proto')}`,
      payload: { protocol: { mapping_id: 'shared' } },
    }),
  },
  {
    action: 'list_protocols',
    ...read,
    request: async () => ({ method: 'GET', url: `${F}/identity_providers/shared/protocols` }),
  },
  {
    action: 'get_protocol',
    ...read,
    request: async () => ({ method: 'GET', url: `${F}/identity_providers/shared/protocols/saml2` }),
  },
  {
    action: 'update_protocol',
    ...write(200),
    request: async () => ({
      method: 'PATCH',
      url: `${F}/identity_providers/shared/protocols/${await freshProtocol()}`,
      payload: { protocol: { mapping_id: 'shared' } },
    }),
  },
  {
    action: 'delete_protocol',
    ...write(204),
    request: async () => ({
      method: 'DELETE',
      url: `${F}/identity_providers/shared/protocols/${await freshProtocol()}`,
    }),
  },
  {
    action: 'create_mapping',
    ...write(201),
    request: async () => ({
      method: 'PUT',
      url: `${F}/mappings/${unique('mapping')}`,
      payload: { mapping: { rules } },
    }),
  },
  { action: 'list_mappings', ...read, request: async () => ({ method: 'GET', url: `${F}/mappings` }) },
  { action: 'get_mapping', ...read, request: async () => ({ method: 'GET', url: `${F}/mappings/shared` }) },
  {
    action: 'update_mapping',
    ...write(200),
    request: async () => ({
      method: 'PATCH',
      url: `${F}/mappings/${await freshMapping()}`,
      payload: { mapping: { rules } },
    }),
  },
  {
    action: 'delete_mapping',
    ...write(204),
    request: async () => ({ method: 'DELETE', url: `${F}/mappings/${await freshMapping()}` }),
  },
  {
    action: 'create_service_provider',
    ...write(201),
    request: async () => ({
      method: 'PUT',
      url: `${F}/service_providers/${unique('sp')}`,
      payload: { service_provider: { auth_url: 'https://sp.test/v3', sp_url: 'https://sp.test/ecp' } },
    }),
  },
  {
    action: 'list_service_providers',
    ...read,
    request: async () => ({ method: 'GET', url: `${F}/service_providers` }),
  },
  {
    action: 'get_service_provider',
    ...read,
    request: async () => ({ method: 'GET', url: `${F}/service_providers/shared` }),
  },
  {
    action: 'update_service_provider',
    ...write(200),
    request: async () => ({
      method: 'PATCH',
      url: `${F}/service_providers/${await freshSp()}`,
      payload: { service_provider: { enabled: true } },
    }),
  },
  {
    action: 'delete_service_provider',
    ...write(204),
    request: async () => ({ method: 'DELETE', url: `${F}/service_providers/${await freshSp()}` }),
  },
  // OS-FEDERATION's names for /v3/auth/projects and /v3/auth/domains: any token.
  {
    action: 'get_auth_projects',
    ...anyToken,
    request: async () => ({ method: 'GET', url: `${F}/projects` }),
  },
  { action: 'get_auth_domains', ...anyToken, request: async () => ({ method: 'GET', url: `${F}/domains` }) },
  // The mapped login is unenforced, as Keystone's: no token stands in for the web server's
  // assertion, whoever sends it (without one the mapping finds no user).
  ...(['GET', 'POST'] as const).map((method) => ({
    action: `federated login (${method})`,
    expected: everyone(401),
    secure: everyone(401),
    request: async () => ({ method, url: `${F}/identity_providers/open/protocols/mapped/auth` }),
  })),
  // WebSSO, unenforced too: no origin is a 400 and no remote id a 401, whatever the token.
  {
    action: 'websso for a provider',
    expected: everyone(400),
    secure: everyone(400),
    request: async () => ({
      method: 'GET',
      url: '/v3/auth/OS-FEDERATION/identity_providers/open/protocols/mapped/websso',
    }),
  },
  {
    action: 'websso',
    expected: everyone(401),
    secure: everyone(401),
    request: async () => ({
      method: 'POST',
      url: '/v3/auth/OS-FEDERATION/websso/mapped?origin=https://x.test/',
    }),
  },
];

protectionMatrix(
  'federation action',
  () => rows,
  async (secure, persona, r) =>
    (await (secure ? secureApi : api).call(r.method, r.url, r.payload, p.tokens[persona])).status,
);

test('a refused caller learns nothing of whether the object exists: 403 before 404', async () => {
  for (const url of [`${F}/identity_providers/nope`, `${F}/mappings/nope`, `${F}/service_providers/nope`]) {
    assert.equal((await api.call('GET', url, undefined, p.tokens.project_member)).status, 403);
    assert.equal((await api.call('GET', url)).status, 404);
  }
});
