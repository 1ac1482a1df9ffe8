/**
 * The protection matrix for OS-TRUST: every persona of personas.ts against every trust action,
 * the exact status Keystone 22's policies give (keystone/common/policies/trust.py), in both
 * configurations: Keystone 22's default (new rules or'ed with the deprecated ones) and secure
 * RBAC (IDENTITY_POLICY_ENFORCE_SCOPE and _NEW_DEFAULTS on), where these system-and-project
 * actions refuse domain tokens. The trusts are own_user's (the trustor, member on its project)
 * to project_member (the trustee); writes act on a fresh trust per persona.
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
let shared: string;

let n = 0;
/** A new trust from own_user to project_member on own_user's project (a distinct expiry each). */
const freshTrust = async (): Promise<string> => {
  const expires = new Date(Date.now() + 86_400_000 + ++n * 1000).toISOString();
  const res = await api.call(
    'POST',
    '/v3/OS-TRUST/trusts',
    {
      trust: {
        trustor_user_id: p.userIds.own_user,
        trustee_user_id: p.userIds.project_member,
        project_id: p.ownProjectId,
        impersonation: false,
        expires_at: expires,
        roles: [{ name: 'member' }],
      },
    },
    p.tokens.own_user,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.trust.id;
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
  shared = await freshTrust();
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
/** Under secure RBAC, actions scoped to system and project: a domain token is refused. */
const SP_ADMINS: Persona[] = ['system_admin', 'project_admin'];

const PARTIES: Persona[] = ['own_user', 'project_member'];
const rows: ProtectionCase[] = [
  {
    action: 'identity:create_trust (own_user as the trustor)',
    // user_id:%(target.trust.trustor_user_id)s, scope types project.
    expected: expectStatus(['own_user'], 201),
    request: async () => ({
      method: 'POST',
      url: '/v3/OS-TRUST/trusts',
      payload: {
        trust: {
          trustor_user_id: p.userIds.own_user,
          trustee_user_id: p.userIds.project_member,
          project_id: p.ownProjectId,
          impersonation: true,
          expires_at: new Date(Date.now() + 86_400_000 + ++n * 1000).toISOString(),
          roles: [{ name: 'member' }],
        },
      },
    }),
  },
  {
    action: 'identity:list_trusts',
    // admin_required or (reader and system_scope:all); deprecated admin_required.
    expected: expectStatus([...ADMINS, 'system_reader'], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader'], 200),
    request: async () => ({ method: 'GET', url: '/v3/OS-TRUST/trusts' }),
  },
  {
    action: 'identity:list_trusts_for_trustor',
    expected: expectStatus([...ADMINS, 'system_reader', 'own_user'], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader', 'own_user'], 200),
    request: async () => ({
      method: 'GET',
      url: `/v3/OS-TRUST/trusts?trustor_user_id=${p.userIds.own_user}`,
    }),
  },
  {
    action: 'identity:list_trusts_for_trustee',
    expected: expectStatus([...ADMINS, 'system_reader', 'project_member'], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader', 'project_member'], 200),
    request: async () => ({
      method: 'GET',
      url: `/v3/OS-TRUST/trusts?trustee_user_id=${p.userIds.project_member}`,
    }),
  },
  {
    action: 'identity:get_trust',
    expected: expectStatus([...ADMINS, 'system_reader', ...PARTIES], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader', ...PARTIES], 200),
    request: async () => ({ method: 'GET', url: `/v3/OS-TRUST/trusts/${shared}` }),
  },
  {
    action: 'identity:list_roles_for_trust',
    expected: expectStatus([...ADMINS, 'system_reader', ...PARTIES], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader', ...PARTIES], 200),
    request: async () => ({ method: 'GET', url: `/v3/OS-TRUST/trusts/${shared}/roles` }),
  },
  {
    action: 'identity:get_role_for_trust',
    expected: expectStatus([...ADMINS, 'system_reader', ...PARTIES], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader', ...PARTIES], 200),
    request: async () => ({ method: 'GET', url: `/v3/OS-TRUST/trusts/${shared}/roles/${p.roles.member}` }),
  },
  {
    action: 'identity:get_role_for_trust (HEAD)',
    expected: expectStatus([...ADMINS, 'system_reader', ...PARTIES], 200),
    secure: expectStatus([...SP_ADMINS, 'system_reader', ...PARTIES], 200),
    request: async () => ({ method: 'HEAD', url: `/v3/OS-TRUST/trusts/${shared}/roles/${p.roles.member}` }),
  },
  {
    action: 'identity:delete_trust',
    // admin_required or user_id:trustor; deprecated user_id:trustor. The trustee may not.
    expected: expectStatus([...ADMINS, 'own_user'], 204),
    secure: expectStatus([...SP_ADMINS, 'own_user'], 204),
    request: async () => ({ method: 'DELETE', url: `/v3/OS-TRUST/trusts/${await freshTrust()}` }),
  },
  {
    action: 'identity:get_trust (a trust that does not exist: 404 before the policy)',
    expected: {
      ...expectStatus(
        PERSONAS.filter((x) => x !== 'no_token'),
        404,
      ),
    },
    request: async () => ({ method: 'GET', url: `/v3/OS-TRUST/trusts/${'0'.repeat(32)}` }),
  },
];

protectionMatrix(
  'trust action',
  () => rows,
  async (secure, persona, r) =>
    (await (secure ? secureApi : api).call(r.method, r.url, r.payload, p.tokens[persona])).status,
);

test('a list filtered by trustor shows only that trustor; another query key alone lists nothing', async () => {
  const mine = await api.call(
    'GET',
    `/v3/OS-TRUST/trusts?trustor_user_id=${p.userIds.own_user}`,
    undefined,
    p.tokens.own_user,
  );
  assert.ok(mine.body.trusts.length > 0);
  assert.ok(
    mine.body.trusts.every((x: { trustor_user_id: string }) => x.trustor_user_id === p.userIds.own_user),
  );
  const odd = await api.call('GET', '/v3/OS-TRUST/trusts?name=x', undefined, p.tokens.system_admin);
  assert.deepEqual(odd.body.trusts, []);
});
