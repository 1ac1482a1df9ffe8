import { after, before } from 'node:test';
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

let service: string;
let endpoint: string;
let policy: string;
let configured: string;

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
  service = (await ok('POST', '/v3/services', { service: { type: 'compute' } }, 201)).service.id;
  endpoint = (
    await ok(
      'POST',
      '/v3/endpoints',
      {
        endpoint: { service_id: service, interface: 'public', url: 'https://x.test', region_id: 'RegionOne' },
      },
      201,
    )
  ).endpoint.id;
  policy = await freshPolicy();
  for (const rest of [
    `endpoints/${endpoint}`,
    `services/${service}`,
    `services/${service}/regions/RegionOne`,
  ])
    await ok('PUT', `/v3/policies/${policy}/OS-ENDPOINT-POLICY/${rest}`, undefined, 204);
  configured = await freshDomain();
  await ok('PUT', `/v3/domains/${configured}/config`, { config: { identity: { driver: 'ldap' } } }, 201);
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
const ADMIN_OR_SYSTEM_READER: Persona[] = [...ADMINS, 'system_reader'];
const SP_ADMINS: Persona[] = ['system_admin', 'project_admin'];
const SP_ADMIN_OR_SYSTEM_READER: Persona[] = [...SP_ADMINS, 'system_reader'];
const WITH_TOKEN: Persona[] = PERSONAS.filter((x) => x !== 'no_token');

let n = 0;
async function freshPolicy(): Promise<string> {
  return (await ok('POST', '/v3/policies', { policy: { blob: `b${++n}`, type: 'text/plain' } }, 201)).policy
    .id;
}
async function freshDomain(): Promise<string> {
  return (await ok('POST', '/v3/domains', { domain: { name: `protected-${++n}` } }, 201)).domain.id;
}
const assoc = (id: string, rest: string) => `/v3/policies/${id}/OS-ENDPOINT-POLICY/${rest}`;
/** The association of `policy` with the target (a target has one policy: other rows take it). */
async function associated(rest: string): Promise<string> {
  await ok('PUT', assoc(policy, rest), undefined, 204);
  return assoc(policy, rest);
}

/** A reading action (admin or system reader) and a writing one (admin). */
const reads = {
  expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
  secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
};
const readsNoContent = {
  expected: expectStatus(ADMIN_OR_SYSTEM_READER, 204),
  secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 204),
};
const writes = (status: number) => ({
  expected: expectStatus(ADMINS, status),
  secure: expectStatus(SP_ADMINS, status),
});

const associationKinds = [
  ['endpoint', () => `endpoints/${endpoint}`],
  ['service', () => `services/${service}`],
  ['region_and_service', () => `services/${service}/regions/RegionOne`],
] as const;

const rows: ProtectionCase[] = [
  { action: 'list_policies', ...reads, request: async () => ({ method: 'GET', url: '/v3/policies' }) },
  { action: 'get_policy', ...reads, request: async () => ({ method: 'GET', url: `/v3/policies/${policy}` }) },
  {
    action: 'create_policy',
    ...writes(201),
    request: async () => ({
      method: 'POST',
      url: '/v3/policies',
      payload: { policy: { blob: 'x', type: 'y' } },
    }),
  },
  {
    action: 'update_policy',
    ...writes(200),
    request: async () => ({
      method: 'PATCH',
      url: `/v3/policies/${await freshPolicy()}`,
      payload: { policy: { blob: 'z' } },
    }),
  },
  {
    action: 'delete_policy',
    ...writes(204),
    request: async () => ({ method: 'DELETE', url: `/v3/policies/${await freshPolicy()}` }),
  },
  ...associationKinds.flatMap(([noun, rest]): ProtectionCase[] => [
    {
      action: `create_policy_association_for_${noun}`,
      ...writes(204),
      request: async () => ({ method: 'PUT', url: assoc(await freshPolicy(), rest()) }),
    },
    {
      action: `check_policy_association_for_${noun}`,
      ...readsNoContent,
      request: async () => ({ method: 'GET', url: await associated(rest()) }),
    },
    {
      action: `check_policy_association_for_${noun} (HEAD)`,
      ...readsNoContent,
      request: async () => ({ method: 'HEAD', url: await associated(rest()) }),
    },
    {
      action: `delete_policy_association_for_${noun}`,
      ...writes(204),
      request: async () => {
        const fresh = await freshPolicy();
        await ok('PUT', assoc(fresh, rest()), undefined, 204);
        return { method: 'DELETE', url: assoc(fresh, rest()) };
      },
    },
  ]),
  {
    action: 'list_endpoints_for_policy',
    ...reads,
    request: async () => ({ method: 'GET', url: assoc(policy, 'endpoints') }),
  },
  {
    action: 'get_policy_for_endpoint',
    ...reads,
    request: async () => ({ method: 'GET', url: `/v3/endpoints/${endpoint}/OS-ENDPOINT-POLICY/policy` }),
  },
  {
    action: 'create_domain_config',
    ...writes(201),
    request: async () => ({
      method: 'PUT',
      url: `/v3/domains/${await freshDomain()}/config`,
      payload: { config: { identity: { driver: 'ldap' } } },
    }),
  },
  ...['', '/identity', '/identity/driver'].map(
    (sub): ProtectionCase => ({
      action: `get_domain_config (config${sub})`,
      ...reads,
      request: async () => ({ method: 'GET', url: `/v3/domains/${configured}/config${sub}` }),
    }),
  ),
  {
    action: 'update_domain_config',
    ...writes(200),
    request: async () => ({
      method: 'PATCH',
      url: `/v3/domains/${configured}/config/identity/driver`,
      payload: { config: { driver: 'ldap' } },
    }),
  },
  {
    action: 'delete_domain_config',
    ...writes(204),
    request: async () => {
      const d = await freshDomain();
      await ok('PUT', `/v3/domains/${d}/config`, { config: { identity: { driver: 'ldap' } } }, 201);
      return { method: 'DELETE', url: `/v3/domains/${d}/config` };
    },
  },
  ...[
    '/v3/domains/config/default',
    '/v3/domains/config/ldap/default',
    '/v3/domains/config/ldap/url/default',
  ].map(
    (url): ProtectionCase => ({
      action: `get_domain_config_default (${url})`,
      ...reads,
      request: async () => ({ method: 'GET', url }),
    }),
  ),
  {
    // Keystone 22's rule is '' with system, domain and project scope types: any token.
    action: 'get_security_compliance_domain_config',
    expected: expectStatus(WITH_TOKEN, 200),
    secure: expectStatus(WITH_TOKEN, 200),
    request: async () => ({
      method: 'GET',
      url: '/v3/domains/default/config/security_compliance/password_regex',
    }),
  },
];

protectionMatrix(
  'action',
  () => rows,
  async (secure, persona, r) =>
    (await (secure ? secureApi : api).call(r.method, r.url, r.payload, p.tokens[persona])).status,
);
