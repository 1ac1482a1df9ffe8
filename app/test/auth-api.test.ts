/** The authentication API against real PostgreSQL, through app.inject(). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { createPool } from '../src/db.js';
import { migrate } from '../src/migrate.js';
import { encrypt } from '../src/token/fernet.js';
import { loadKeys } from '../src/token/keys.js';
import { encodePayload } from '../src/token/payload.js';
import { until } from './events.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

const project = { project: { name: 'admin', domain: { name: 'Default' } } };

describe('authentication API', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let other: FastifyInstance;
  let otherDb: ReturnType<typeof createPool>;
  let token: string;

  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    otherDb = createPool(t.url, 2);
    other = await build({ config: t.config, db: otherDb });
    const res = await app.inject({ method: 'POST', url: '/v3/auth/tokens', payload: passwordAuth(project) });
    token = res.headers['x-subject-token'] as string;
  });
  after(async () => {
    await app.close();
    await other.close();
    await otherDb.end();
    await t.drop();
  });

  const check = (subject: string, by: FastifyInstance = app, method: 'GET' | 'HEAD' = 'GET', query = '') =>
    by.inject({
      method,
      url: `/v3/auth/tokens${query}`,
      headers: { 'x-auth-token': token, 'x-subject-token': subject },
    });

  test('discovery: GET / is 300 with the versions, GET /v3 and /v3/ the v3 document', async () => {
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 300);
    assert.equal(root.headers.location, 'http://identity.test:5000/v3/');
    assert.equal(root.json().versions.values[0].id, 'v3.14');
    for (const url of ['/v3', '/v3/']) {
      const v3 = await app.inject({ method: 'GET', url });
      assert.equal(v3.statusCode, 200);
      assert.equal(v3.json().version.links[0].href, 'http://identity.test:5000/v3/');
    }
  });

  test('password, project scope: 201, X-Subject-Token, roles with implied ones, catalog', async () => {
    const res = await app.inject({ method: 'POST', url: '/v3/auth/tokens', payload: passwordAuth(project) });
    assert.equal(res.statusCode, 201);
    assert.match(res.headers['x-subject-token'] as string, /^gAAAAA[\w-]+$/);
    const body = res.json().token;
    assert.deepEqual(body.methods, ['password']);
    assert.equal(body.project.name, 'admin');
    assert.deepEqual(body.project.domain, { id: 'default', name: 'Default' });
    assert.deepEqual(body.roles.map((r: { name: string }) => r.name).sort(), [
      'admin',
      'manager',
      'member',
      'reader',
    ]);
    assert.equal(body.catalog[0].type, 'identity');
    assert.equal(body.catalog[0].endpoints.length, 3);
    assert.match(body.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(body.user.password_expires_at, null);
    assert.equal(res.headers.vary, 'X-Auth-Token');
    assert.match(res.headers['x-openstack-request-id'] as string, /^req-[0-9a-f-]{36}$/);
  });

  test('?nocatalog, unscoped, domain and system scopes', async () => {
    const nocatalog = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens?nocatalog',
      payload: passwordAuth(project),
    });
    assert.equal(nocatalog.json().token.catalog, undefined);
    const unscoped = (
      await app.inject({ method: 'POST', url: '/v3/auth/tokens', payload: passwordAuth() })
    ).json().token;
    assert.equal(unscoped.roles, undefined);
    assert.equal(unscoped.catalog, undefined);
    const system = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordAuth({ system: { all: true } }),
    });
    assert.equal(system.statusCode, 201);
    assert.deepEqual(system.json().token.system, { all: true });
    const domain = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordAuth({ domain: { id: 'default' } }),
    });
    assert.equal(domain.statusCode, 401, 'admin has no role on the domain');
  });

  test('a wrong password is 401 with WWW-Authenticate and the generic message', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordAuth(project, 'wrong'),
    });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Keystone uri="http://identity.test:5000/v3"');
    assert.deepEqual(res.json(), {
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
  });

  test('bad input: malformed JSON, missing fields, wrong types, unknown methods, oversized bodies', async () => {
    const post = (payload: string | object, type = 'application/json') =>
      app.inject({ method: 'POST', url: '/v3/auth/tokens', payload, headers: { 'content-type': type } });
    const cases: Array<[string | object, number]> = [
      ['{"auth":', 400],
      [{}, 400],
      [{ auth: {} }, 400],
      [{ auth: { identity: { methods: 'password' } } }, 400],
      [
        {
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'admin', domain: { name: 'Default' } } },
            },
          },
        },
        400,
      ],
      [
        {
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 7, domain: { name: 'Default' }, password: 'x' } },
            },
          },
        },
        400,
      ],
      [{ auth: { identity: { methods: ['kerberos'] } } }, 400],
      [{ auth: { identity: { methods: ['kerberos'], kerberos: {} } } }, 401],
      [
        {
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'x'.repeat(300), domain: { name: 'Default' }, password: 'x' } },
            },
          },
        },
        400,
      ],
    ];
    for (const [payload, status] of cases) {
      const res = await post(payload);
      assert.equal(res.statusCode, status, JSON.stringify(payload).slice(0, 80));
      assert.equal(res.json().error.code, status);
    }
    const unsupported = await post({ auth: { identity: { methods: ['kerberos'], kerberos: {} } } });
    assert.equal(unsupported.json().error.message, 'Attempted to authenticate with an unsupported method.');
    assert.ok(unsupported.json().error.identity.methods.includes('password'));
    const huge = await post(`{"auth":"${'x'.repeat(2 * 1024 * 1024)}"}`);
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json().error.code, 413);
  });

  test('validate (GET), check (HEAD), bad subject 404, bad caller 401', async () => {
    const get = await check(token);
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['x-subject-token'], token);
    assert.equal(get.json().token.project.name, 'admin');
    const head = await check(token, app, 'HEAD');
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    const garbage = await check('gAAAAABgarbagegarbagegarbagegarbagegarbagegarbagegarbage');
    assert.equal(garbage.statusCode, 404);
    assert.equal(garbage.json().error.code, 404);
    const noCaller = await app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-subject-token': token },
    });
    assert.equal(noCaller.statusCode, 401);
    assert.match(noCaller.headers['www-authenticate'] as string, /^Keystone uri=/);
  });

  test('a token revoked through one instance is rejected by another at once', async () => {
    const subject = (
      await app.inject({ method: 'POST', url: '/v3/auth/tokens', payload: passwordAuth(project) })
    ).headers['x-subject-token'] as string;
    assert.equal((await check(subject, other)).statusCode, 200);
    const revoked = await app.inject({
      method: 'DELETE',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': token, 'x-subject-token': subject },
    });
    assert.equal(revoked.statusCode, 204);
    // The other instance has it cached; the revocation's NOTIFY must reach it within a second.
    // Checked at once and on each invalidation the other instance hears, for up to a second.
    let status = 200;
    await until(
      'the revocation to reach the other instance',
      other.services.invalidation.changes,
      'change',
      async () => {
        status = (await check(subject, other)).statusCode;
        return status !== 200;
      },
      1000,
    ).catch(() => {});
    assert.equal(status, 404);
    assert.equal((await check(token, other)).statusCode, 200, 'other tokens stay valid');
  });

  test('rescoping with the token method keeps the original expiry and chains the audit ids', async () => {
    const first = await app.inject({ method: 'POST', url: '/v3/auth/tokens', payload: passwordAuth() });
    const unscoped = first.headers['x-subject-token'] as string;
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: { auth: { identity: { methods: ['token'], token: { id: unscoped } }, scope: project } },
    });
    assert.equal(res.statusCode, 201);
    const body = res.json().token;
    // Keystone's token plugin adds the parent's methods; the bitmask orders them as [auth] methods.
    assert.deepEqual(body.methods, ['password', 'token']);
    assert.equal(body.expires_at, first.json().token.expires_at);
    assert.equal(body.audit_ids[1], first.json().token.audit_ids[0]);
  });

  test("the caller's scopes: /v3/auth/projects, /v3/auth/domains, /v3/auth/system", async () => {
    const get = (url: string) =>
      app.inject({ method: 'GET', url, headers: { 'x-auth-token': token } }).then((r) => r.json());
    const projects = await get('/v3/auth/projects');
    assert.deepEqual(
      projects.projects.map((p: { name: string }) => p.name),
      ['admin'],
    );
    assert.equal(projects.links.self, 'http://identity.test:5000/v3/auth/projects');
    assert.deepEqual((await get('/v3/auth/domains')).domains, [], 'bootstrap grants no domain role');
    assert.deepEqual((await get('/v3/auth/system')).system, [{ all: true }]);
  });

  test('an expired token is 404, and 200 with ?allow_expired=1 inside the window', async () => {
    const body = (await check(token)).json().token;
    // A token that expired a minute ago, made with the service's own primary key.
    const [primary] = loadKeys(t.config.fernetKeyRepository);
    const expired = encrypt(
      primary!,
      encodePayload({
        userId: body.user.id,
        methods: ['password'],
        scope: { kind: 'project', projectId: body.project.id },
        expiresAt: Date.now() - 60_000,
        auditIds: ['3T2dc1CGQxyJsHdDu1xkcw'],
      }),
      Date.now() - 3_600_000,
    ).toString('base64url');
    assert.equal((await check(expired)).statusCode, 404);
    const allowed = await check(expired, app, 'GET', '?allow_expired=1');
    assert.equal(allowed.statusCode, 200);
    assert.equal(allowed.json().token.user.id, body.user.id);
  });

  test('unknown routes answer with a Keystone 404 body, unknown methods with 405', async () => {
    const res = await app.inject({ method: 'GET', url: '/v3/nothing-here' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(Object.keys(res.json().error).sort(), ['code', 'message', 'title']);
    for (const [method, url] of [
      ['PUT', '/v3/auth/tokens'],
      ['PATCH', '/v3/auth/tokens/'],
      ['DELETE', '/v3'],
      ['GET', '/v3/users/abc/password'],
    ] as const) {
      const wrong = await app.inject({ method, url, headers: { 'x-auth-token': token } });
      assert.equal(wrong.statusCode, 405, `${method} ${url}`);
      assert.equal(wrong.json().error.code, 405);
      assert.equal(wrong.json().error.title, 'Method Not Allowed');
    }
  });

  test("a reader cannot validate somebody else's token (403), but may validate its own", async () => {
    const s = app.services;
    const userId = await s.identity.ensureUser('0123456789abcdef0123456789abcdef', 'reader1', 'default');
    await s.identity.setPassword(userId, 'reader password');
    const readerRole = (await s.resource.project({ name: 'admin', domain: { id: 'default' } }))!;
    const roleId = await s.assignment.ensureGlobalRole('x', 'reader');
    await s.assignment.grant({
      actor: { type: 'user', id: userId },
      target: { type: 'project', id: readerRole.id },
      roleId,
    });
    const issued = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: userId, password: 'reader password' } },
          },
          scope: { project: { id: readerRole.id } },
        },
      },
    });
    assert.equal(issued.statusCode, 201);
    const mine = issued.headers['x-subject-token'] as string;
    const asReader = (subject: string) =>
      app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': mine, 'x-subject-token': subject },
      });
    assert.equal((await asReader(token)).statusCode, 403);
    assert.equal(
      (await asReader(token)).json().error.message,
      'You are not authorized to perform the requested action.',
    );
    assert.equal((await asReader(mine)).statusCode, 200);
    assert.deepEqual(
      (await asReader(mine)).json().token.roles.map((r: { name: string }) => r.name),
      ['reader'],
    );
  });
});

describe('migrations', () => {
  test('several processes migrating at once apply each file exactly once', async () => {
    const t = await testDatabase({ bootstrap: false });
    try {
      const pools = [0, 1, 2].map(() => createPool(t.url, 1));
      const results = await Promise.all(pools.map((db) => migrate(db)));
      assert.equal(results.flat().length, results.find((r) => r.length > 0)?.length);
      const { rows } = await t.db.query('SELECT count(*)::int AS n FROM schema_migration');
      assert.equal(rows[0].n, results.flat().length);
      await Promise.all(pools.map((p) => p.end()));
    } finally {
      await t.drop();
    }
  });
});
