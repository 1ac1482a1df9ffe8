/**
 * The protection matrix for unified limits: every persona of personas.ts against every registered
 * limit and limit action, with the exact status Keystone 22's default policies give, in both
 * configurations (Keystone 22's defaults, and secure RBAC with IDENTITY_POLICY_ENFORCE_SCOPE and
 * _NEW_DEFAULTS on, where the writes' scope types, system and project, refuse domain tokens).
 * Writes act on a fresh registered limit or limit per persona, so each cell stands alone.
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
let service: string;
let projectLimit: string;
let domainLimit: string;
let otherLimit: string;
const ok: typeof api.ok = (...a) => api.ok(...a);

let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;
const freshRegistered = async () =>
  (
    await ok(
      'POST',
      '/v3/registered_limits',
      { registered_limits: [{ service_id: service, resource_name: unique('res'), default_limit: 10 }] },
      201,
    )
  ).registered_limits[0];
const freshLimit = async (owner: Record<string, string>) => {
  const r = await freshRegistered();
  return (
    await ok(
      'POST',
      '/v3/limits',
      { limits: [{ ...owner, service_id: service, resource_name: r.resource_name, resource_limit: 5 }] },
      201,
    )
  ).limits[0].id as string;
};

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
  projectLimit = await freshLimit({ project_id: p.projectId });
  domainLimit = await freshLimit({ domain_id: p.domainId });
  otherLimit = await freshLimit({ project_id: p.otherProjectId });
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
/** Under secure RBAC the writes are scoped to system and project: a domain token is refused. */
const SP_ADMINS: Persona[] = ['system_admin', 'project_admin'];
const WITH_TOKEN: Persona[] = PERSONAS.filter((x) => x !== 'no_token');
const DOMAIN_PERSONAS: Persona[] = ['domain_admin', 'domain_manager', 'domain_reader'];
const PROJECT_PERSONAS: Persona[] = ['project_admin', 'project_manager', 'project_member', 'project_reader'];

const rows: ProtectionCase[] = [
  {
    action: 'list_registered_limits',
    expected: expectStatus(WITH_TOKEN, 200),
    request: async () => ({ method: 'GET', url: '/v3/registered_limits' }),
  },
  {
    action: 'get_registered_limit',
    expected: expectStatus(WITH_TOKEN, 200),
    request: async () => ({ method: 'GET', url: `/v3/registered_limits/${(await freshRegistered()).id}` }),
  },
  {
    action: 'create_registered_limits',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => ({
      method: 'POST',
      url: '/v3/registered_limits',
      payload: {
        registered_limits: [{ service_id: service, resource_name: unique('new'), default_limit: 1 }],
      },
    }),
  },
  {
    action: 'update_registered_limit',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(SP_ADMINS, 200),
    request: async () => ({
      method: 'PATCH',
      url: `/v3/registered_limits/${(await freshRegistered()).id}`,
      payload: { registered_limit: { default_limit: 3 } },
    }),
  },
  {
    action: 'delete_registered_limit',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => ({ method: 'DELETE', url: `/v3/registered_limits/${(await freshRegistered()).id}` }),
  },
  {
    action: 'get_limit_model',
    expected: expectStatus(WITH_TOKEN, 200),
    request: async () => ({ method: 'GET', url: '/v3/limits/model' }),
  },
  {
    action: 'list_limits',
    expected: expectStatus(WITH_TOKEN, 200),
    request: async () => ({ method: 'GET', url: '/v3/limits' }),
  },
  {
    action: "get_limit (the persona project's)",
    expected: expectStatus(['system_admin', 'system_reader', ...DOMAIN_PERSONAS, ...PROJECT_PERSONAS], 200),
    request: async () => ({ method: 'GET', url: `/v3/limits/${projectLimit}` }),
  },
  {
    action: "get_limit (the persona domain's)",
    expected: expectStatus(['system_admin', 'system_reader', ...DOMAIN_PERSONAS, 'project_admin'], 200),
    request: async () => ({ method: 'GET', url: `/v3/limits/${domainLimit}` }),
  },
  {
    action: "get_limit (another domain's project)",
    expected: expectStatus(
      ['system_admin', 'system_reader', 'domain_admin', 'project_admin', 'other_user'],
      200,
    ),
    request: async () => ({ method: 'GET', url: `/v3/limits/${otherLimit}` }),
  },
  {
    action: 'create_limits',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => {
      const r = await freshRegistered();
      return {
        method: 'POST',
        url: '/v3/limits',
        payload: {
          limits: [
            {
              project_id: p.projectId,
              service_id: service,
              resource_name: r.resource_name,
              resource_limit: 1,
            },
          ],
        },
      };
    },
  },
  {
    action: 'update_limit',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(SP_ADMINS, 200),
    request: async () => ({
      method: 'PATCH',
      url: `/v3/limits/${await freshLimit({ project_id: p.projectId })}`,
      payload: { limit: { resource_limit: 2 } },
    }),
  },
  {
    action: 'delete_limit',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => ({
      method: 'DELETE',
      url: `/v3/limits/${await freshLimit({ project_id: p.projectId })}`,
    }),
  },
];

protectionMatrix(
  'limit action',
  () => rows,
  async (secure, persona, r) =>
    (await (secure ? secureApi : api).call(r.method, r.url, r.payload, p.tokens[persona])).status,
);

test('a limit that does not exist: 404 for who may read any limit, 403 for the others (no target)', async () => {
  for (const [persona, status] of [
    ['system_reader', 404],
    ['domain_admin', 404],
    ['domain_reader', 403],
    ['project_member', 403],
  ] as const)
    assert.equal(
      (await api.call('GET', '/v3/limits/nosuch', undefined, p.tokens[persona])).status,
      status,
      persona,
    );
});
