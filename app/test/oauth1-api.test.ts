/**
 * OS-OAUTH1 against real PostgreSQL, through app.inject(): consumers, the three legs (request
 * token, authorization, access token), logging in with the oauth1 method, a user's access tokens,
 * the revocations, and the attacks (tampered signatures, roles the user lacks, a request token
 * used twice, a deleted access token's tokens, delegated tokens minting more).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { decrypt } from '../src/token/fernet.js';
import { loadKeys } from '../src/token/keys.js';
import { decodePayload, encodePayload } from '../src/token/payload.js';
import { client, type Json } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';
import { form, type Signing, signedHeader } from './oauth1-client.js';

const HOST = 'identity.test:5000';
const BASE = `http://${HOST}/v3`;
const adminProject = { project: { name: 'admin', domain: { name: 'Default' } } };

describe('OS-OAUTH1', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let admin: string;
  let api: ReturnType<typeof client>;
  let adminId: string;
  let projectId: string;
  const roleIds: Record<string, string> = {};

  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordAuth(adminProject),
    });
    admin = res.headers['x-subject-token'] as string;
    const body = res.json();
    adminId = body.token.user.id;
    projectId = body.token.project.id;
    api = client(app, () => admin);
    for (const r of (await api.ok('GET', '/v3/roles')).roles) roleIds[r.name] = r.id;
  });
  after(async () => {
    await app.close();
    await t.drop();
  });

  const post = (url: string, headers: Record<string, string>) =>
    app.inject({ method: 'POST', url, headers: { host: HOST, ...headers } });

  async function newConsumer(): Promise<{ id: string; secret: string }> {
    const body = await api.ok('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: 'c' } }, 201);
    return body.consumer;
  }

  async function requestToken(
    c: { id: string; secret: string },
    project = projectId,
    extra: Partial<Signing> = {},
  ) {
    return post('/v3/OS-OAUTH1/request_token', {
      'requested-project-id': project,
      authorization: signedHeader({
        method: 'POST',
        uri: `${BASE}/OS-OAUTH1/request_token`,
        consumerKey: c.id,
        consumerSecret: c.secret,
        callback: 'oob',
        ...extra,
      }),
    });
  }

  const authorize = (requestTokenId: string, roles: Json[], token = admin) =>
    app.inject({
      method: 'PUT',
      url: `/v3/OS-OAUTH1/authorize/${requestTokenId}`,
      headers: { 'x-auth-token': token },
      payload: { roles },
    });

  const accessToken = (
    c: { id: string; secret: string },
    rt: { oauth_token: string; oauth_token_secret: string },
    verifier: string,
    extra: Partial<Signing> = {},
  ) =>
    post('/v3/OS-OAUTH1/access_token', {
      authorization: signedHeader({
        method: 'POST',
        uri: `${BASE}/OS-OAUTH1/access_token`,
        consumerKey: c.id,
        consumerSecret: c.secret,
        token: rt.oauth_token,
        tokenSecret: rt.oauth_token_secret,
        verifier,
        ...extra,
      }),
    });

  const login = (
    c: { id: string; secret: string },
    at: { oauth_token: string; oauth_token_secret: string },
    extra: Partial<Signing> = {},
    body: Json = { auth: { identity: { methods: ['oauth1'], oauth1: {} } } },
  ) =>
    app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      headers: {
        host: HOST,
        authorization: signedHeader({
          method: 'POST',
          uri: `${BASE}/auth/tokens`,
          consumerKey: c.id,
          consumerSecret: c.secret,
          token: at.oauth_token,
          tokenSecret: at.oauth_token_secret,
          ...extra,
        }),
      },
      payload: body,
    });

  /** The three legs: a consumer, its access token for `roles` on the admin project. */
  async function delegate(roles: Json[] = [{ id: roleIds.member }]) {
    const c = await newConsumer();
    const rt = form((await requestToken(c)).body);
    const auth = await authorize(rt.oauth_token, roles);
    assert.equal(auth.statusCode, 200, auth.body);
    const verifier = auth.json().token.oauth_verifier as string;
    const res = await accessToken(c, rt, verifier);
    assert.equal(res.statusCode, 201, res.body);
    return { consumer: c, requestToken: rt, verifier, access: form(res.body) };
  }

  const validate = (subject: string) =>
    app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': admin, 'x-subject-token': subject },
    });

  test('consumers: the secret at create only, description updates, the secret never changes', async () => {
    const created = (
      await api.ok('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: 'first', x: 1 } }, 201)
    ).consumer;
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.match(created.secret, /^[0-9a-f]{32}$/);
    assert.equal(created.description, 'first');
    assert.equal(created.x, 1);
    assert.equal(created.links.self, `${BASE}/OS-OAUTH1/consumers/${created.id}`);
    const shown = (await api.ok('GET', `/v3/OS-OAUTH1/consumers/${created.id}`)).consumer;
    assert.deepEqual(shown, { x: 1, id: created.id, description: 'first', links: created.links });
    const listed = (await api.ok('GET', '/v3/OS-OAUTH1/consumers')).consumers;
    assert.ok(listed.some((c: Json) => c.id === created.id && !('secret' in c)));
    const updated = (
      await api.ok('PATCH', `/v3/OS-OAUTH1/consumers/${created.id}`, { consumer: { description: 'second' } })
    ).consumer;
    assert.equal(updated.description, 'second');
    assert.equal(updated.x, 1);
    assert.equal('secret' in updated, false);
    const secret = await api.call('PATCH', `/v3/OS-OAUTH1/consumers/${created.id}`, {
      consumer: { secret: 'mine' },
    });
    assert.equal(secret.status, 400);
    assert.equal(
      (await api.call('PATCH', `/v3/OS-OAUTH1/consumers/${created.id}`, { consumer: {} })).status,
      400,
    );
    await api.ok('DELETE', `/v3/OS-OAUTH1/consumers/${created.id}`, undefined, 204);
    const gone = await api.call('GET', `/v3/OS-OAUTH1/consumers/${created.id}`);
    assert.deepEqual(gone, {
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: 'Consumer not found' } },
    });
  });

  test('the whole flow: a project-scoped token holding the delegated roles only, with OS-OAUTH1', async () => {
    const { consumer, access, requestToken: rt } = await delegate([{ name: 'member' }]);
    assert.match(rt.oauth_expires_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const res = await login(consumer, access);
    assert.equal(res.statusCode, 201, res.body);
    const token = res.json().token;
    assert.deepEqual(token.methods, ['oauth1']);
    assert.equal(token.project.id, projectId);
    assert.equal(token.user.id, adminId);
    // member implies reader; admin was not delegated.
    assert.deepEqual(token.roles.map((r: Json) => r.name).sort(), ['member', 'reader']);
    assert.deepEqual(token['OS-OAUTH1'], { access_token_id: access.oauth_token, consumer_id: consumer.id });
    const subject = res.headers['x-subject-token'] as string;
    const validated = await validate(subject);
    assert.equal(validated.statusCode, 200);
    assert.deepEqual(validated.json().token['OS-OAUTH1'], token['OS-OAUTH1']);

    // Keystone's OauthScopedPayload: [7, user, methods, project, access token id, expiry, audits].
    const decrypted = decrypt(loadKeys(t.config.fernetKeyRepository), Buffer.from(subject, 'base64url'));
    assert.ok(decrypted);
    const payload = decodePayload(decrypted.message);
    assert.deepEqual(payload.scope, { kind: 'oauth1', projectId, accessTokenId: access.oauth_token });
    assert.deepEqual(payload.methods, ['oauth1']);
    assert.deepEqual(encodePayload(payload), decrypted.message);

    // The access token as its user sees it.
    const shown = (await api.ok('GET', `/v3/users/${adminId}/OS-OAUTH1/access_tokens/${access.oauth_token}`))
      .access_token;
    assert.deepEqual(shown, {
      id: access.oauth_token,
      authorizing_user_id: adminId,
      project_id: projectId,
      consumer_id: consumer.id,
      expires_at: access.oauth_expires_at,
      links: {
        self: `${BASE}/users/${adminId}/OS-OAUTH1/access_tokens/${access.oauth_token}`,
        roles: `${BASE}/users/${adminId}/OS-OAUTH1/access_tokens/${access.oauth_token}/roles`,
      },
    });
    const list = (await api.ok('GET', `/v3/users/${adminId}/OS-OAUTH1/access_tokens`)).access_tokens;
    assert.ok(list.some((a: Json) => a.id === access.oauth_token));
    const roles = (
      await api.ok('GET', `/v3/users/${adminId}/OS-OAUTH1/access_tokens/${access.oauth_token}/roles`)
    ).roles;
    assert.deepEqual(
      roles.map((r: Json) => r.id),
      [roleIds.member],
    );
    const role = await api.ok(
      'GET',
      `/v3/users/${adminId}/OS-OAUTH1/access_tokens/${access.oauth_token}/roles/${roleIds.member}`,
    );
    assert.equal(role.role.name, 'member');
    assert.equal(
      (
        await api.call(
          'GET',
          `/v3/users/${adminId}/OS-OAUTH1/access_tokens/${access.oauth_token}/roles/${roleIds.admin}`,
        )
      ).status,
      404,
    );
  });

  test('a tampered signature is refused at every leg', async () => {
    const c = await newConsumer();
    const wrong = {
      ...c,
      secret:
        `${c.secret.slice(0, -1)}0` === c.secret ? `${c.secret.slice(0, -1)}1` : `${c.secret.slice(0, -1)}0`,
    };
    assert.equal((await requestToken(wrong)).statusCode, 401);
    const { consumer, requestToken: _rt, access } = await delegate();
    const forged = { ...access, oauth_token_secret: 'f'.repeat(32) };
    const res = await login(consumer, forged);
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.message, 'The request you have made requires authentication.');
    // A signature computed for another URI (a replay elsewhere) does not verify either.
    const other = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      headers: {
        host: HOST,
        authorization: signedHeader({
          method: 'POST',
          uri: `${BASE}/OS-OAUTH1/access_token`,
          consumerKey: consumer.id,
          consumerSecret: consumer.secret,
          token: access.oauth_token,
          tokenSecret: access.oauth_token_secret,
        }),
      },
      payload: { auth: { identity: { methods: ['oauth1'], oauth1: {} } } },
    });
    assert.equal(other.statusCode, 401);
    // A timestamp outside oauthlib's ten minutes.
    const stale = await login(consumer, access, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    assert.equal(stale.statusCode, 401);
    assert.equal((await login(consumer, access)).statusCode, 201);
    // Another consumer holding the access token's secret cannot log in with it.
    const thief = await newConsumer();
    assert.equal((await login(thief, access)).statusCode, 401);
  });

  test('the access token leg: wrong verifier, tampered signature, and a request token used twice', async () => {
    const c = await newConsumer();
    const rt = form((await requestToken(c)).body);
    // Not authorized yet: no verifier matches.
    assert.equal((await accessToken(c, rt, 'abcdefgh')).statusCode, 401);
    const verifier = (await authorize(rt.oauth_token, [{ id: roleIds.reader }])).json().token.oauth_verifier;
    const other = verifier === 'abcdefgh' ? 'abcdefgk' : 'abcdefgh';
    assert.equal((await accessToken(c, rt, other)).statusCode, 401);
    assert.equal(
      (await accessToken(c, { ...rt, oauth_token_secret: '0'.repeat(32) }, verifier)).statusCode,
      401,
    );
    assert.equal((await accessToken(c, rt, verifier)).statusCode, 201);
    const again = await accessToken(c, rt, verifier);
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error.message, 'Request token not found');
  });

  test('authorizing roles the user lacks is refused', async () => {
    const user = (
      await api.ok(
        'POST',
        '/v3/users',
        { user: { name: 'oauth-member', password: 'member-password-1' } },
        201,
      )
    ).user;
    await api.ok('PUT', `/v3/projects/${projectId}/users/${user.id}/roles/${roleIds.member}`, undefined, 204);
    await api.ok('PUT', `/v3/projects/${projectId}/users/${user.id}/roles/${roleIds.admin}`, undefined, 204);
    const c = await newConsumer();
    const rt = form((await requestToken(c)).body);
    // The user may authorize (admin there) but holds no role named "service".
    const service = (await api.ok('POST', '/v3/roles', { role: { name: 'oauth-service' } }, 201)).role;
    const res = await authorize(rt.oauth_token, [{ id: service.id }]);
    assert.equal(res.statusCode, 401);
    const unknown = await authorize(rt.oauth_token, [{ name: 'no-such-role' }]);
    assert.equal(unknown.statusCode, 404);
    // Nothing was authorized: the access token leg still fails.
    assert.equal((await accessToken(c, rt, 'abcdefgh')).statusCode, 401);
    await api.ok('DELETE', `/v3/users/${user.id}`, undefined, 204);
  });

  test('deleting the access token, the consumer or the user ends the tokens issued through it', async () => {
    const first = await delegate();
    const t1 = (await login(first.consumer, first.access)).headers['x-subject-token'] as string;
    assert.equal((await validate(t1)).statusCode, 200);
    await api.ok(
      'DELETE',
      `/v3/users/${adminId}/OS-OAUTH1/access_tokens/${first.access.oauth_token}`,
      undefined,
      204,
    );
    assert.equal((await validate(t1)).statusCode, 404);
    const used = await app.inject({
      method: 'GET',
      url: '/v3/auth/projects',
      headers: { 'x-auth-token': t1 },
    });
    assert.equal(used.statusCode, 401);
    const relogin = await login(first.consumer, first.access);
    assert.equal(relogin.statusCode, 404);

    const second = await delegate();
    const t2 = (await login(second.consumer, second.access)).headers['x-subject-token'] as string;
    assert.equal((await validate(t2)).statusCode, 200);
    await api.ok('DELETE', `/v3/OS-OAUTH1/consumers/${second.consumer.id}`, undefined, 204);
    assert.equal((await validate(t2)).statusCode, 404);
    assert.equal(
      (await api.call('GET', `/v3/users/${adminId}/OS-OAUTH1/access_tokens/${second.access.oauth_token}`))
        .status,
      404,
    );
  });

  test('a user deleted: the access tokens the user authorized go, and their tokens with them', async () => {
    const user = (
      await api.ok('POST', '/v3/users', { user: { name: 'oauth-admin', password: 'admin-password-1' } }, 201)
    ).user;
    await api.ok('PUT', `/v3/projects/${projectId}/users/${user.id}/roles/${roleIds.admin}`, undefined, 204);
    const own = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: user.id, password: 'admin-password-1' } },
          },
          scope: { project: { id: projectId } },
        },
      },
    });
    const userToken = own.headers['x-subject-token'] as string;
    const c = await newConsumer();
    const rt = form((await requestToken(c)).body);
    const verifier = (await authorize(rt.oauth_token, [{ id: roleIds.reader }], userToken)).json().token
      .oauth_verifier;
    const access = form((await accessToken(c, rt, verifier)).body);
    const issued = await login(c, access);
    assert.equal(issued.statusCode, 201);
    assert.equal(issued.json().token.user.id, user.id);
    const subject = issued.headers['x-subject-token'] as string;
    await api.ok('DELETE', `/v3/users/${user.id}`, undefined, 204);
    assert.equal((await validate(subject)).statusCode, 404);
    assert.equal((await login(c, access)).statusCode, 404);
  });

  test('a token from an access token cannot mint more: no rescope, no authorization, no credentials', async () => {
    const { consumer, access } = await delegate([{ id: roleIds.admin }]);
    const oauthToken = (await login(consumer, access)).headers['x-subject-token'] as string;
    const rescope = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: { auth: { identity: { methods: ['token'], token: { id: oauthToken } }, scope: adminProject } },
    });
    assert.equal(rescope.statusCode, 403);
    const c = await newConsumer();
    const rt = form((await requestToken(c)).body);
    assert.equal((await authorize(rt.oauth_token, [{ id: roleIds.reader }], oauthToken)).statusCode, 403);
    const as = client(app, () => oauthToken);
    assert.equal((await as.call('GET', `/v3/users/${adminId}/OS-OAUTH1/access_tokens`)).status, 403);
    assert.equal(
      (
        await as.call('POST', `/v3/users/${adminId}/application_credentials`, {
          application_credential: { name: 'from-oauth' },
        })
      ).status,
      403,
    );
    assert.equal((await as.call('GET', `/v3/users/${adminId}/application_credentials`)).status, 403);
    assert.equal(
      (
        await as.call('POST', '/v3/credentials', {
          credential: { type: 'totp', user_id: adminId, blob: 'JBSWY3DPEHPK3PXP' },
        })
      ).status,
      403,
    );
  });

  test('bad requests: missing header, project, consumer; an unknown project or consumer', async () => {
    const c = await newConsumer();
    const none = await post('/v3/OS-OAUTH1/request_token', { 'requested-project-id': projectId });
    assert.equal(none.statusCode, 400);
    const noProject = await post('/v3/OS-OAUTH1/request_token', {
      authorization: signedHeader({
        method: 'POST',
        uri: `${BASE}/OS-OAUTH1/request_token`,
        consumerKey: c.id,
        consumerSecret: c.secret,
        callback: 'oob',
      }),
    });
    assert.equal(noProject.statusCode, 400);
    assert.match(noProject.json().error.message, /Requested-Project-Id/);
    assert.equal((await requestToken(c, 'f'.repeat(32))).statusCode, 404);
    assert.equal((await requestToken({ id: 'e'.repeat(32), secret: c.secret })).statusCode, 404);
    const noCallback = await post('/v3/OS-OAUTH1/request_token', {
      'requested-project-id': projectId,
      authorization: signedHeader({
        method: 'POST',
        uri: `${BASE}/OS-OAUTH1/request_token`,
        consumerKey: c.id,
        consumerSecret: c.secret,
      }),
    });
    assert.equal(noCallback.statusCode, 400);
    assert.equal(
      noCallback.json().error.message,
      'Validation failed with errors: invalid_request, detail message is: Missing callback URI..',
    );
    const get = await app.inject({ method: 'GET', url: '/v3/OS-OAUTH1/request_token' });
    assert.equal(get.statusCode, 405);
  });
});
