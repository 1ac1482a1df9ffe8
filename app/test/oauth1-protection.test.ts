/**
 * The protection matrix for OS-OAUTH1: consumers, authorizing request tokens and a user's access
 * tokens, every persona of personas.ts against every action, the exact status Keystone 22's
 * default policies give, in both configurations (Keystone 22's defaults, and secure RBAC where
 * the access token actions, scoped to projects, refuse system and domain tokens). Each cell acts
 * on a fresh consumer, request token or access token.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client } from './api.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import { form, signedHeader } from './oauth1-client.js';
import {
  createPersonas,
  expectStatus,
  type Persona,
  type Personas,
  type ProtectionCase,
  protectionMatrix,
} from './personas.js';

const HOST = 'identity.test:5000';
const BASE = `http://${HOST}/v3`;

let t: TestDatabase;
let app: FastifyInstance;
let secureApp: FastifyInstance;
let p: Personas;
let api: ReturnType<typeof client>;
let secureApi: ReturnType<typeof client>;
let adminProjectId: string;
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
  adminProjectId = (await ok('GET', '/v3/projects?name=admin')).projects[0].id;
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
const PROJECT_ADMINS: Persona[] = ['project_admin'];

const consumer = async (): Promise<{ id: string; secret: string }> =>
  (await ok('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: 'matrix' } }, 201)).consumer;

/** A request token of a fresh consumer for `project`. */
async function requestToken(project: string) {
  const c = await consumer();
  const res = await app.inject({
    method: 'POST',
    url: '/v3/OS-OAUTH1/request_token',
    headers: {
      host: HOST,
      'requested-project-id': project,
      authorization: signedHeader({
        method: 'POST',
        uri: `${BASE}/OS-OAUTH1/request_token`,
        consumerKey: c.id,
        consumerSecret: c.secret,
        callback: 'oob',
      }),
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return { consumer: c, token: form(res.body) };
}

/** An access token the bootstrap admin authorized with the member role on the admin project. */
async function accessToken(): Promise<string> {
  const { consumer: c, token } = await requestToken(adminProjectId);
  const verifier = (
    await ok('PUT', `/v3/OS-OAUTH1/authorize/${token.oauth_token}`, { roles: [{ id: p.roles.member }] })
  ).token.oauth_verifier;
  const res = await app.inject({
    method: 'POST',
    url: '/v3/OS-OAUTH1/access_token',
    headers: {
      host: HOST,
      authorization: signedHeader({
        method: 'POST',
        uri: `${BASE}/OS-OAUTH1/access_token`,
        consumerKey: c.id,
        consumerSecret: c.secret,
        token: token.oauth_token,
        tokenSecret: token.oauth_token_secret,
        verifier,
      }),
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return form(res.body).oauth_token as string;
}

const adminId = () => p.userIds.system_admin;
let shared: string | undefined;
const sharedAccessToken = async () => {
  shared ??= await accessToken();
  return shared;
};

const rows: ProtectionCase[] = [
  {
    action: 'list_consumers',
    expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
    secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
    request: async () => ({ method: 'GET', url: '/v3/OS-OAUTH1/consumers' }),
  },
  {
    action: 'get_consumer',
    expected: expectStatus(ADMIN_OR_SYSTEM_READER, 200),
    secure: expectStatus(SP_ADMIN_OR_SYSTEM_READER, 200),
    request: async () => ({ method: 'GET', url: `/v3/OS-OAUTH1/consumers/${(await consumer()).id}` }),
  },
  {
    action: 'create_consumer',
    expected: expectStatus(ADMINS, 201),
    secure: expectStatus(SP_ADMINS, 201),
    request: async () => ({ method: 'POST', url: '/v3/OS-OAUTH1/consumers', payload: { consumer: {} } }),
  },
  {
    action: 'update_consumer',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(SP_ADMINS, 200),
    request: async () => ({
      method: 'PATCH',
      url: `/v3/OS-OAUTH1/consumers/${(await consumer()).id}`,
      payload: { consumer: { description: 'changed' } },
    }),
  },
  {
    action: 'delete_consumer',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => ({ method: 'DELETE', url: `/v3/OS-OAUTH1/consumers/${(await consumer()).id}` }),
  },
  {
    // No roles asked for: every caller the rule lets through holds them all.
    action: 'authorize_request_token',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(PROJECT_ADMINS, 200),
    request: async () => ({
      method: 'PUT',
      url: `/v3/OS-OAUTH1/authorize/${(await requestToken(p.projectId)).token.oauth_token}`,
      payload: { roles: [] },
    }),
  },
  {
    action: 'list_access_tokens',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(PROJECT_ADMINS, 200),
    request: async () => ({ method: 'GET', url: `/v3/users/${adminId()}/OS-OAUTH1/access_tokens` }),
  },
  {
    action: 'get_access_token',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(PROJECT_ADMINS, 200),
    request: async () => ({
      method: 'GET',
      url: `/v3/users/${adminId()}/OS-OAUTH1/access_tokens/${await sharedAccessToken()}`,
    }),
  },
  {
    action: 'list_access_token_roles',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(PROJECT_ADMINS, 200),
    request: async () => ({
      method: 'GET',
      url: `/v3/users/${adminId()}/OS-OAUTH1/access_tokens/${await sharedAccessToken()}/roles`,
    }),
  },
  {
    action: 'get_access_token_role',
    expected: expectStatus(ADMINS, 200),
    secure: expectStatus(PROJECT_ADMINS, 200),
    request: async () => ({
      method: 'GET',
      url: `/v3/users/${adminId()}/OS-OAUTH1/access_tokens/${await sharedAccessToken()}/roles/${p.roles.member}`,
    }),
  },
  {
    // Keystone 22 checks identity:ec2_delete_credential here (scoped to system and project).
    action: 'delete_access_token',
    expected: expectStatus(ADMINS, 204),
    secure: expectStatus(SP_ADMINS, 204),
    request: async () => ({
      method: 'DELETE',
      url: `/v3/users/${adminId()}/OS-OAUTH1/access_tokens/${await accessToken()}`,
    }),
  },
];

protectionMatrix(
  'OS-OAUTH1 action',
  () => rows,
  async (secure, persona, r) =>
    (await (secure ? secureApi : api).call(r.method, r.url, r.payload, p.tokens[persona])).status,
);

test('the request and access token legs need no X-Auth-Token: the signature is the proof', async () => {
  const { token } = await requestToken(p.projectId);
  assert.match(token.oauth_token as string, /^[0-9a-f]{32}$/);
});
