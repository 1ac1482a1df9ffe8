/**
 * OS-EC2 and the EC2/S3 token endpoints: the key pairs' API (as Keystone 22 answers it, stored as
 * `ec2` credentials /v3/credentials shows), requests signed by botocore (SigV4 in the header and
 * in the query, SigV2, S3's HmacV1 and SigV4) turned into tokens, and the attacks: a wrong
 * secret, one byte changed, a replay after the ttl, another user's keys, a disabled user, a
 * project without roles, a delegated token, an EC2 token used as a caller or rescoped. Then the
 * protection matrix of the six actions, every persona, both policy configurations.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { checkEc2Signature, ec2Signature } from '../src/credential/ec2.js';
import { createServices } from '../src/services.js';
import { AUTH_TTL_MS, authenticateEc2 } from '../src/token/ec2.js';
import { client, type Json } from './api.js';
import { signed } from './ec2-sign.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import { createPersonas, PERSONA_PASSWORD, PERSONAS, type Persona, type Personas } from './personas.js';

let t: TestDatabase;
let app: FastifyInstance;
let secureApp: FastifyInstance;
let p: Personas;
let api: ReturnType<typeof client>;
let secureApi: ReturnType<typeof client>;
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
});
after(async () => {
  await secureApp.close();
  await app.close();
  await t.drop();
});

const ec2Path = (user: string) => `/v3/users/${user}/credentials/OS-EC2`;
const ownKey = async (): Promise<Json> =>
  (await ok('POST', ec2Path(p.userIds.own_user), { tenant_id: p.ownProjectId }, 201)).credential;

const UNAUTHORIZED = {
  error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
};

test('create, list, show and delete a key pair, shaped as Keystone shows it', async () => {
  const own = p.tokens.own_user;
  const created = await api.call('POST', ec2Path(p.userIds.own_user), { tenant_id: p.ownProjectId }, own);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const c = created.body.credential;
  assert.deepEqual(Object.keys(c), ['user_id', 'tenant_id', 'access', 'secret', 'trust_id', 'links']);
  assert.match(c.access, /^[0-9a-f]{32}$/);
  assert.match(c.secret, /^[0-9a-f]{32}$/);
  assert.equal(c.user_id, p.userIds.own_user);
  assert.equal(c.tenant_id, p.ownProjectId);
  assert.equal(c.trust_id, null);
  assert.equal(
    c.links.self,
    `http://identity.test:5000/v3/users/${p.userIds.own_user}/credentials/OS-EC2/${c.access}`,
  );

  // The same credential in /v3/credentials: id the SHA-256 of the access key, Python's JSON text.
  const id = createHash('sha256').update(c.access).digest('hex');
  const v3 = (await api.call('GET', `/v3/credentials/${id}`, undefined, own)).body.credential;
  assert.equal(v3.type, 'ec2');
  assert.equal(v3.project_id, p.ownProjectId);
  assert.equal(v3.blob, `{"access": "${c.access}", "secret": "${c.secret}", "trust_id": null}`);

  const list = await api.call('GET', ec2Path(p.userIds.own_user), undefined, own);
  assert.equal(list.status, 200);
  assert.ok(list.body.credentials.some((x: Json) => x.access === c.access && x.secret === c.secret));
  assert.equal(list.body.links.self, `http://identity.test:5000${ec2Path(p.userIds.own_user)}`);

  const shown = await api.call('GET', `${ec2Path(p.userIds.own_user)}/${c.access}`, undefined, own);
  assert.deepEqual(shown.body, { credential: c });
  assert.equal(
    (await api.call('DELETE', `${ec2Path(p.userIds.own_user)}/${c.access}`, undefined, own)).status,
    204,
  );
  // Gone: Keystone's 404 names the hash it looked for.
  assert.deepEqual(
    (await api.call('GET', `${ec2Path(p.userIds.own_user)}/${c.access}`, undefined, own)).body,
    {
      error: { code: 404, title: 'Not Found', message: `Could not find credential: ${id}.` },
    },
  );
});

test('Keystone refusals of the key pair API', async () => {
  const missing = await api.call('POST', ec2Path(p.userIds.own_user), {});
  assert.deepEqual(missing.body.error, {
    code: 404,
    title: 'Not Found',
    message: 'Could not find project: None.',
  });
  const unknown = await api.call('POST', ec2Path(p.userIds.own_user), { tenant_id: 'nope' });
  assert.equal(unknown.body.error.message, 'Could not find project: nope.');
  const nobody = await api.call('GET', ec2Path('nouser'));
  assert.deepEqual(nobody.body.error, {
    code: 404,
    title: 'Not Found',
    message: 'Could not find user: nouser.',
  });
  // A credential's id is no access key: looked up by its hash, it is not found.
  const totp = await ok(
    'POST',
    '/v3/credentials',
    {
      credential: { user_id: p.userIds.own_user, type: 'totp', blob: 'x' },
    },
    201,
  );
  assert.equal((await api.call('GET', `${ec2Path(p.userIds.own_user)}/${totp.credential.id}`)).status, 404);
  assert.equal((await api.call('GET', '/v3/ec2tokens')).status, 405);
  assert.equal((await api.call('GET', '/v3/s3tokens')).status, 405);
});

test('a user cannot create, read or delete EC2 keys of another user (403)', async () => {
  const key = await ownKey();
  const other = p.tokens.other_user;
  const made = await api.call('POST', ec2Path(p.userIds.own_user), { tenant_id: p.otherProjectId }, other);
  assert.equal(made.status, 403);
  assert.equal((await api.call('GET', ec2Path(p.userIds.own_user), undefined, other)).status, 403);
  // Through the attacker's own path too: the rule looks at the stored credential's owner.
  for (const method of ['GET', 'DELETE'])
    assert.equal(
      (await api.call(method, `${ec2Path(p.userIds.other_user)}/${key.access}`, undefined, other)).status,
      403,
    );
  assert.equal((await api.call('GET', `${ec2Path(p.userIds.own_user)}/${key.access}`)).status, 200);
});

/** A token for the key's owner, from a botocore-signed request; the response. */
const post = (path: string, body: unknown, token: string | null = p.tokens.system_admin) =>
  app.inject({
    method: 'POST',
    url: path,
    payload: body as Json,
    headers: token ? { 'x-auth-token': token } : {},
  });

test('requests signed by botocore become tokens of the key owner on its project', async () => {
  const key = await ownKey();
  for (const mode of ['ec2-v4', 'ec2-v4-query', 'ec2-v2']) {
    const res = await post('/v3/ec2tokens', signed(mode, key.access, key.secret));
    assert.equal(res.statusCode, 200, `${mode}: ${res.body}`);
    const token = res.json().token;
    assert.deepEqual(token.methods, ['ec2credential']);
    assert.equal(token.user.id, p.userIds.own_user);
    assert.equal(token.project.id, p.ownProjectId);
    assert.deepEqual(
      token.roles.map((r: Json) => r.name),
      ['member', 'reader'],
    );
    assert.ok(Array.isArray(token.catalog));
    // The token validates (the method survives the Fernet round trip, on its own bit).
    const subject = res.headers['x-subject-token'] as string;
    const check = await app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': p.tokens.system_admin as string, 'x-subject-token': subject },
    });
    assert.equal(check.statusCode, 200);
    assert.deepEqual(check.json().token.methods, ['ec2credential']);
  }
  for (const mode of ['s3-v1', 's3-v4']) {
    const res = await post('/v3/s3tokens', signed(mode, key.access, key.secret));
    assert.equal(res.statusCode, 200, `${mode}: ${res.body}`);
    assert.equal(res.headers['x-subject-token'], undefined);
    assert.equal(res.json().token.project.id, p.ownProjectId);
  }
});

test('a wrong secret, one changed byte, a changed signature: 401 with Keystone’s body', async () => {
  const key = await ownKey();
  const wrong = await post('/v3/ec2tokens', signed('ec2-v4', key.access, 'not-the-secret'));
  assert.equal(wrong.statusCode, 401);
  assert.deepEqual(wrong.json(), UNAUTHORIZED);
  assert.match(wrong.headers['www-authenticate'] as string, /^Keystone uri=/);

  const body = signed('ec2-v4', key.access, key.secret);
  const c = body.ec2Credentials;
  const tampered: Array<[string, Json]> = [
    ['path', { ...c, path: '/x' }],
    ['verb', { ...c, verb: 'PUT' }],
    ['body hash', { ...c, body_hash: c.body_hash.replace(/^./, (x: string) => (x === '0' ? '1' : '0')) }],
    [
      'X-Amz-Date',
      { ...c, headers: { ...c.headers, 'X-Amz-Date': c.headers['X-Amz-Date'].replace(/.$/, 'X') } },
    ],
    ['signature', { ...c, signature: c.signature.replace(/^./, (x: string) => (x === 'a' ? 'b' : 'a')) }],
  ];
  for (const [what, changed] of tampered) {
    const res = await post('/v3/ec2tokens', { ec2Credentials: changed });
    assert.equal(res.statusCode, 401, what);
    assert.deepEqual(res.json(), UNAUTHORIZED, what);
  }
  const v2 = signed('ec2-v2', key.access, key.secret).ec2Credentials;
  const v2res = await post('/v3/ec2tokens', {
    ec2Credentials: { ...v2, params: { ...v2.params, Action: 'RunInstances' } },
  });
  assert.equal(v2res.statusCode, 401);

  const s3 = signed('s3-v1', key.access, key.secret).credentials;
  const changedToken = Buffer.from(s3.token, 'base64url');
  changedToken[0] = (changedToken[0] as number) ^ 1;
  for (const credentials of [
    { ...s3, token: changedToken.toString('base64url') },
    {
      ...s3,
      signature:
        `A${s3.signature.slice(1)}` === s3.signature
          ? `B${s3.signature.slice(1)}`
          : `A${s3.signature.slice(1)}`,
    },
  ]) {
    const res = await post('/v3/s3tokens', { credentials });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), UNAUTHORIZED);
  }
  assert.equal((await post('/v3/s3tokens', signed('s3-v4', key.access, 'wrong'))).statusCode, 401);
});

test('malformed credentials are refused, never a 500', async () => {
  const key = await ownKey();
  const good = signed('ec2-v4', key.access, key.secret).ec2Credentials;
  const cases: Array<[unknown, number]> = [
    [{}, 400],
    [{ credentials: {} }, 401],
    [{ credentials: { access: 5 } }, 401],
    [{ credentials: { access: key.access } }, 401],
    [{ credentials: { access: key.access, signature: 'x' } }, 401],
    [{ credentials: { access: key.access, signature: 'x', params: {} } }, 401],
    [
      { credentials: { ...good, headers: { ...good.headers, Authorization: 'AWS4-HMAC-SHA256 nothing' } } },
      401,
    ],
    [{ credentials: { ...good, body_hash: 7 } }, 401],
    [{ credentials: { ...good, headers: {}, params: { SignatureVersion: '9' } } }, 401],
    [{ credentials: { ...good, signature: '' } }, 401],
  ];
  for (const [body, status] of cases) {
    const res = await post('/v3/ec2tokens', body);
    assert.equal(res.statusCode, status, JSON.stringify(body));
  }
  for (const credentials of [
    { access: key.access },
    { access: key.access, token: 'QUJD' },
    { access: key.access, token: 'QVdTNA', signature: 'x' },
  ])
    assert.equal((await post('/v3/s3tokens', { credentials })).statusCode, 401);
  // An unknown access key is Keystone 22's CredentialNotFound, naming the hash it looked for.
  const unknown = await post('/v3/ec2tokens', signed('ec2-v4', 'nope', key.secret));
  assert.equal(unknown.statusCode, 404);
  assert.equal(
    unknown.json().error.message,
    `Could not find credential: ${createHash('sha256').update('nope').digest('hex')}.`,
  );
});

test('only a service or an admin may exchange signatures; an EC2 token is no caller', async () => {
  const key = await ownKey();
  const body = signed('ec2-v4', key.access, key.secret);
  assert.equal((await post('/v3/ec2tokens', body, null)).statusCode, 401);
  assert.equal((await post('/v3/ec2tokens', body, p.tokens.own_user)).statusCode, 403);
  assert.equal(
    (await post('/v3/s3tokens', signed('s3-v1', key.access, key.secret), p.tokens.project_member)).statusCode,
    403,
  );
  const issued = await post('/v3/ec2tokens', body);
  const ec2Token = issued.headers['x-subject-token'] as string;
  // Used as X-Auth-Token anywhere: 403, as Keystone's auth context refuses it.
  for (const url of ['/v3/auth/projects', `/v3/users/${p.userIds.own_user}`, ec2Path(p.userIds.own_user)]) {
    const res = await app.inject({ method: 'GET', url, headers: { 'x-auth-token': ec2Token } });
    assert.equal(res.statusCode, 403, url);
  }
  assert.equal((await post('/v3/ec2tokens', body, ec2Token)).statusCode, 403);
  // Exchanged for another token: Keystone's delegated-token refusal.
  const rescope = await app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: { auth: { identity: { methods: ['token'], token: { id: ec2Token } } } },
  });
  assert.equal(rescope.statusCode, 403);
  assert.equal(
    rescope.json().error.message,
    'You are not authorized to perform the requested action: Using a delegated token to create another token is not allowed..',
  );
});

test('a key of a disabled user or project, or on a project without roles, makes no token', async () => {
  // A key pair on a project the user has no role on: accepted at creation, as Keystone does; no token.
  const stranger = await api.call(
    'POST',
    ec2Path(p.userIds.own_user),
    { tenant_id: p.otherProjectId },
    p.tokens.own_user,
  );
  assert.equal(stranger.status, 201);
  const none = await post(
    '/v3/ec2tokens',
    signed('ec2-v4', stranger.body.credential.access, stranger.body.credential.secret),
  );
  assert.equal(none.statusCode, 401);
  assert.deepEqual(none.json(), UNAUTHORIZED);

  const user = (await ok('POST', '/v3/users', { user: { name: 'ec2-disabled', domain_id: p.domainId } }, 201))
    .user;
  await ok('PUT', `/v3/projects/${p.ownProjectId}/users/${user.id}/roles/${p.roles.member}`, undefined, 204);
  const key = (await ok('POST', ec2Path(user.id), { tenant_id: p.ownProjectId }, 201)).credential;
  const body = signed('ec2-v4', key.access, key.secret);
  assert.equal((await post('/v3/ec2tokens', body)).statusCode, 200);
  await ok('PATCH', `/v3/users/${user.id}`, { user: { enabled: false } });
  assert.equal((await post('/v3/ec2tokens', body)).statusCode, 401);
  assert.equal((await post('/v3/s3tokens', signed('s3-v1', key.access, key.secret))).statusCode, 401);
  await ok('PATCH', `/v3/users/${user.id}`, { user: { enabled: true } });
  assert.equal((await post('/v3/ec2tokens', body)).statusCode, 200);

  const project = (
    await ok('POST', '/v3/projects', { project: { name: 'ec2-project', domain_id: p.domainId } }, 201)
  ).project;
  await ok('PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${p.roles.member}`, undefined, 204);
  const onProject = (await ok('POST', ec2Path(user.id), { tenant_id: project.id }, 201)).credential;
  await ok('PATCH', `/v3/projects/${project.id}`, { project: { enabled: false } });
  assert.equal(
    (await post('/v3/ec2tokens', signed('ec2-v4', onProject.access, onProject.secret))).statusCode,
    401,
  );
});

test('a signed timestamp older than the ttl is refused (a replay)', async () => {
  const key = await ownKey();
  const s = createServices(t.db, t.config);
  const body = signed('ec2-v2', key.access, key.secret);
  const now = Date.now();
  assert.equal((await authenticateEc2(s, 'ec2', body, now)).context.user.id, p.userIds.own_user);
  await assert.rejects(authenticateEc2(s, 'ec2', body, now + AUTH_TTL_MS + 60_000), { status: 401 });
  // A signed X-Amz-Date (v4) just the same.
  await assert.rejects(
    authenticateEc2(s, 'ec2', signed('ec2-v4', key.access, key.secret), now + AUTH_TTL_MS + 60_000),
    {
      status: 401,
    },
  );
});

test('a client that signed without the port is accepted, as Keystone retries without it', () => {
  const c = {
    host: 'EC2.example:8773',
    verb: 'GET',
    path: '/',
    params: { Action: 'DescribeRegions', SignatureVersion: '2', Timestamp: '2026-01-01T00:00:00Z' },
  };
  const withoutPort = ec2Signature('s3cr3t', c, 'ec2.example');
  assert.notEqual(withoutPort, ec2Signature('s3cr3t', c, 'EC2.example:8773'));
  assert.equal(checkEc2Signature('s3cr3t', { ...c, signature: withoutPort }), 'ok');
  assert.equal(checkEc2Signature('other', { ...c, signature: withoutPort }), 'mismatch');
  assert.equal(checkEc2Signature('s3cr3t', c), 'missing');
});

test('a delegated token (an application credential) may not see or mint EC2 keys', async () => {
  const app_cred = await api.call(
    'POST',
    `/v3/users/${p.userIds.own_user}/application_credentials`,
    { application_credential: { name: 'ec2-delegation', unrestricted: true } },
    p.tokens.own_user,
  );
  assert.equal(app_cred.status, 201);
  const issued = await app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: {
            id: app_cred.body.application_credential.id,
            secret: app_cred.body.application_credential.secret,
          },
        },
      },
    },
  });
  const delegated = issued.headers['x-subject-token'] as string;
  const refused = {
    code: 403,
    title: 'Forbidden',
    message:
      'You are not authorized to perform the requested action: Delegated tokens cannot access credentials directly.',
  };
  const create = await api.call(
    'POST',
    ec2Path(p.userIds.own_user),
    { tenant_id: p.ownProjectId },
    delegated,
  );
  assert.deepEqual(create.body.error, refused);
  const list = await api.call('GET', ec2Path(p.userIds.own_user), undefined, delegated);
  assert.deepEqual(list.body.error, refused);
  const key = await ownKey();
  assert.equal(
    (await api.call('GET', `${ec2Path(p.userIds.own_user)}/${key.access}`, undefined, delegated)).status,
    403,
  );
});

// --- the protection matrix --------------------------------------------------------------------

const ADMINS: Persona[] = ['system_admin', 'domain_admin', 'project_admin'];
const SP_ADMINS: Persona[] = ['system_admin', 'project_admin'];

function expect(allowed: Persona[], status: number): Record<Persona, number> {
  return Object.fromEntries(
    PERSONAS.map((x) => [x, allowed.includes(x) ? status : x === 'no_token' ? 401 : 403]),
  ) as Record<Persona, number>;
}

interface Row {
  action: string;
  expected: Record<Persona, number>;
  secure?: Record<Persona, number>;
  request: () => Promise<{ method: string; url: string; payload?: unknown }>;
}

let signedOnce: { ec2: Json; s3: Json } | undefined;
const signedBodies = async () => {
  if (!signedOnce) {
    const key = await ownKey();
    signedOnce = {
      ec2: signed('ec2-v4', key.access, key.secret),
      s3: signed('s3-v1', key.access, key.secret),
    };
  }
  return signedOnce;
};

const rows: Row[] = [
  {
    // Keystone's fixed rule (see laterReleases): admins, the system reader and the owner.
    action: 'ec2_list_credentials (own_user’s)',
    expected: expect([...ADMINS, 'system_reader', 'own_user'], 200),
    secure: expect([...SP_ADMINS, 'system_reader', 'own_user'], 200),
    request: async () => ({ method: 'GET', url: ec2Path(p.userIds.own_user) }),
  },
  {
    action: 'ec2_create_credential (for own_user)',
    expected: expect([...ADMINS, 'own_user'], 201),
    secure: expect([...SP_ADMINS, 'own_user'], 201),
    request: async () => ({
      method: 'POST',
      url: ec2Path(p.userIds.own_user),
      payload: { tenant_id: p.ownProjectId },
    }),
  },
  {
    action: 'ec2_get_credential (own_user’s)',
    expected: expect([...ADMINS, 'system_reader', 'own_user'], 200),
    secure: expect([...SP_ADMINS, 'system_reader', 'own_user'], 200),
    request: async () => ({
      method: 'GET',
      url: `${ec2Path(p.userIds.own_user)}/${(await ownKey()).access}`,
    }),
  },
  {
    action: 'ec2_delete_credential (own_user’s)',
    expected: expect([...ADMINS, 'own_user'], 204),
    secure: expect([...SP_ADMINS, 'own_user'], 204),
    request: async () => ({
      method: 'DELETE',
      url: `${ec2Path(p.userIds.own_user)}/${(await ownKey()).access}`,
    }),
  },
  {
    // rule:service_or_admin, scope types system, domain and project.
    action: 'ec2tokens_validate',
    expected: expect(ADMINS, 200),
    request: async () => ({ method: 'POST', url: '/v3/ec2tokens', payload: (await signedBodies()).ec2 }),
  },
  {
    action: 's3tokens_validate',
    expected: expect(ADMINS, 200),
    request: async () => ({ method: 'POST', url: '/v3/s3tokens', payload: (await signedBodies()).s3 }),
  },
];

for (const [configuration, secure] of [
  ['Keystone 22 defaults', false],
  ['secure RBAC', true],
] as const)
  test(`${configuration}: every persona against every OS-EC2 action, the exact status`, async () => {
    const mismatches: string[] = [];
    for (const row of rows)
      for (const persona of PERSONAS) {
        const expected = (secure ? (row.secure ?? row.expected) : row.expected)[persona];
        const { method, url, payload } = await row.request();
        const res = await (secure ? secureApi : api).call(method, url, payload, p.tokens[persona]);
        if (res.status !== expected)
          mismatches.push(`${row.action} as ${persona}: ${res.status}, expected ${expected}`);
      }
    assert.deepEqual(mismatches, []);
  });

test('a service user (role service) may exchange signatures', async () => {
  const svc = (
    await ok(
      'POST',
      '/v3/users',
      { user: { name: 'ec2-service', domain_id: p.domainId, password: PERSONA_PASSWORD } },
      201,
    )
  ).user;
  await ok('PUT', `/v3/projects/${p.projectId}/users/${svc.id}/roles/${p.roles.service}`, undefined, 204);
  const login = await app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: { methods: ['password'], password: { user: { id: svc.id, password: PERSONA_PASSWORD } } },
        scope: { project: { id: p.projectId } },
      },
    },
  });
  assert.equal(login.statusCode, 201, login.body);
  const res = await post(
    '/v3/ec2tokens',
    (await signedBodies()).ec2,
    login.headers['x-subject-token'] as string,
  );
  assert.equal(res.statusCode, 200);
});

test('a key bound to a delegation authenticates only within it', async () => {
  const make = async (access: string, extra: Json, project = p.ownProjectId) =>
    ok(
      'POST',
      '/v3/credentials',
      {
        credential: {
          user_id: p.userIds.own_user,
          project_id: project,
          type: 'ec2',
          blob: JSON.stringify({ access, secret: 'bound-secret', ...extra }),
        },
      },
      201,
    );
  // Trust and OAuth1 keys: no such token type here, so no token rather than an undelegated one.
  await make('trust-key', { trust_id: 'a-trust' });
  assert.equal((await post('/v3/ec2tokens', signed('ec2-v4', 'trust-key', 'bound-secret'))).statusCode, 401);
  await make('oauth-key', { access_token_id: 'a-token' });
  assert.equal((await post('/v3/ec2tokens', signed('ec2-v4', 'oauth-key', 'bound-secret'))).statusCode, 401);
  // An application credential's key: a token scoped as the application credential, on its project only.
  const appCred = await api.call(
    'POST',
    `/v3/users/${p.userIds.own_user}/application_credentials`,
    { application_credential: { name: 'ec2-bound' } },
    p.tokens.own_user,
  );
  const id = appCred.body.application_credential.id;
  await make('app-key', { app_cred_id: id });
  const res = await post('/v3/ec2tokens', signed('ec2-v4', 'app-key', 'bound-secret'));
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().token.application_credential.id, id);
  await make('app-key-elsewhere', { app_cred_id: id }, p.otherProjectId);
  assert.equal(
    (await post('/v3/ec2tokens', signed('ec2-v4', 'app-key-elsewhere', 'bound-secret'))).statusCode,
    401,
  );
});
